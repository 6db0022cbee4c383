package push

import "net/http"

// The JSON bodies Latchkey answers devices with, as docs/push-protocol.md
// specifies them. Requests are compact JWSs (ParseRequest); these are the
// responses, shared by the idp handlers and the reference device.

// ContentType is the media type of a request body: the compact JWS itself
// (RFC 7515 §9.2.1).
const ContentType = "application/jose"

// DeviceStatus answers an enrolment (201) and a heartbeat (200).
type DeviceStatus struct {
	Device    string `json:"device"`           // the device id: the key's RFC 7638 thumbprint
	PushReady bool   `json:"push_ready"`       // see Ready
	Reason    string `json:"reason,omitempty"` // Reason* when not push-ready
	// HeartbeatWithin is the server's silence limit in seconds: a device
	// not heard from for longer is not sent pushes. 0: no limit.
	HeartbeatWithin int64 `json:"heartbeat_within,omitempty"`
}

// ChallengeDetails answers a fetch: what the device shows the user. It
// never holds the number.
type ChallengeDetails struct {
	Challenge string   `json:"challenge"`
	Nonce     string   `json:"nonce"`
	Account   string   `json:"account"`            // the account signing in, as the user knows it
	App       string   `json:"app"`                // the relying party's name
	Browser   string   `json:"browser,omitempty"`  // e.g. "Firefox on Windows", from the User-Agent
	Location  string   `json:"location,omitempty"` // e.g. "Osaka, Japan", when known
	IP        string   `json:"ip,omitempty"`       // the sign-in's client address
	ExpiresIn int64    `json:"expires_in"`         // seconds left to approve
	Choices   []string `json:"choices"`            // NumChoices numbers, one of them right
}

// Answer outcomes.
const (
	ResultApproved = "approved"
	ResultDenied   = "denied"
	ResultReported = "reported" // "this wasn't me" was recorded and the sign-in ended
)

// AnswerResult answers an accepted answer (200).
type AnswerResult struct {
	Result string `json:"result"`
}

// ErrorBody is every error response: the OAuth-style pair (RFC 6749
// §5.2), and for a wrong number how many tries remain.
type ErrorBody struct {
	Error        string `json:"error"`
	Description  string `json:"error_description,omitempty"`
	AttemptsLeft *int   `json:"attempts_left,omitempty"`
}

// ErrorResponse is Status plus a body. A server error's text is not
// shown to the device (it may name internals); every protocol error's
// text is, to help whoever writes an app.
func ErrorResponse(err error) (int, ErrorBody) {
	if err == nil {
		return http.StatusOK, ErrorBody{}
	}
	status, code := Status(err)
	body := ErrorBody{Error: code, Description: "internal error"}
	if status != http.StatusInternalServerError {
		body.Description = err.Error()
	}
	return status, body
}
