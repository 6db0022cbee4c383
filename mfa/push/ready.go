package push

import "time"

// DeviceState is what the store knows of a device's reachability, from
// its enrolment, its heartbeats and the push services' answers.
type DeviceState struct {
	Permission string // as last reported: Permission*
	// TokenValid: the device has a push token and no push service has
	// called it gone (ErrUnregistered) since the device last sent it.
	TokenValid bool
	LastSeen   time.Time // the last signed request from the device
}

// Reasons Ready gives for a device that is not push-ready; they are also
// the "reason" of the enrol and heartbeat responses, so an app can tell
// its user why sign-ins will not reach it.
const (
	ReasonPermission = "permission_not_granted"
	ReasonToken      = "no_valid_token"
	ReasonSilent     = "not_heard_from"
)

// Ready reports whether a push to the device can be expected to arrive:
// notification permission granted, a valid token, and a signed request
// from the device within maxSilence of now (maxSilence <= 0 turns the
// last rule off). A device that is not ready is skipped at once, so the
// sign-in moves to the next factor instead of waiting on a push that
// cannot come. The reason is empty when the device is ready.
func Ready(s DeviceState, now time.Time, maxSilence time.Duration) (bool, string) {
	switch {
	case s.Permission != PermissionGranted:
		return false, ReasonPermission
	case !s.TokenValid:
		return false, ReasonToken
	case maxSilence > 0 && now.Sub(s.LastSeen) > maxSilence:
		return false, ReasonSilent
	}
	return true, ""
}
