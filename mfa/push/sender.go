package push

import (
	"context"
	"errors"
	"time"
)

// Channels a device can be reached on.
const (
	ChannelWebPush = "webpush" // RFC 8030 with RFC 8291 encryption and RFC 8292 VAPID
	ChannelFCM     = "fcm"     // Firebase Cloud Messaging HTTP v1 (Android)
	ChannelAPNs    = "apns"    // Apple Push Notification service, HTTP/2 token auth (iOS)
)

// Target is where one device receives pushes.
type Target struct {
	Channel string
	// Token is the FCM registration token, the APNs device token (hex), or
	// the Web Push subscription as the browser's PushSubscription.toJSON()
	// ({"endpoint": ..., "keys": {"p256dh": ..., "auth": ...}}).
	Token string
}

// Message is the content-free push: it names the issuer and the challenge
// and nothing else, so a push service (or anyone who reads the
// notification) learns nothing about the sign-in. The device fetches the
// details with a signed request, which is also the delivery
// acknowledgement.
type Message struct {
	Issuer      string `json:"iss"`
	ChallengeID string `json:"challenge"`
	// TTL: a push that cannot be delivered within it is dropped by the
	// service (a stale sign-in request is useless).
	TTL time.Duration `json:"-"`
}

// Sender delivers a Message to a Target through one push service. Errors
// that mean the device can never be reached again at this token wrap
// ErrUnregistered; every other error is transient and has already been
// retried within the context's deadline.
type Sender interface {
	Send(ctx context.Context, t Target, m Message) error
}

// ErrUnregistered: the push service says the token or subscription is gone
// (Web Push 404/410, FCM UNREGISTERED / INVALID_ARGUMENT /
// SENDER_ID_MISMATCH, APNs 410 / BadDeviceToken / DeviceTokenNotForTopic).
var ErrUnregistered = errors.New("push: device unregistered")
