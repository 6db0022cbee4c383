// Package apns delivers Latchkey's push to iOS apps through the Apple Push
// Notification service provider API (HTTP/2, token-based authentication).
// It implements push.Sender with the standard library only.
//
// # Authentication
//
// Each request carries "authorization: bearer <JWT>", an ES256 JWT with
// header {alg: ES256, kid: <key id>} and claims {iss: <team id>, iat},
// signed with the .p8 key from the Apple developer account. APNs refuses a
// token older than an hour (ExpiredProviderToken) and one replaced more
// often than every 20 minutes (TooManyProviderTokenUpdates), so the Sender
// signs one token and reuses it for 50 minutes. An ExpiredProviderToken
// answer (a clock behind Apple's) makes it sign a new one and retry once.
//
// # Notification
//
// A visible, content-free alert:
//
//	{"aps": {"alert": {"loc-key": "SIGN_IN_REQUEST"}, "mutable-content": 1},
//	 "iss": ..., "challenge": ...}
//
// with apns-push-type alert, apns-priority 10 and apns-expiration now + TTL.
// The text is the app's localized SIGN_IN_REQUEST string, so nothing about
// the sign-in passes through Apple; mutable-content lets the app's
// notification service extension fetch the details (the delivery
// acknowledgement) and show them. A background push would be throttled and
// never shown when the app was force-quit, which is why it is not used.
//
// # Failures
//
// APNs answers {"reason": ..., "timestamp": ...}; *Error carries it. 410
// (Unregistered, ExpiredToken), BadDeviceToken and DeviceTokenNotForTopic
// wrap push.ErrUnregistered. 429 TooManyRequests, 500 and 503 are retried
// with exponential back-off and jitter, at most Config.MaxRetries times and
// never past the context's deadline. 403 (InvalidProviderToken ...) and
// topic refusals wrap ErrConfig.
//
// # Transport
//
// APNs speaks HTTP/2 only. The default client is an HTTP/2-only transport
// (Config.TLSConfig lets tests trust a fake's certificate); a custom
// Config.HTTPClient must negotiate HTTP/2, or every send fails with
// ErrConfig.
//
// # Tests
//
// Package apnstest is a local HTTP/2 fake of the provider API that checks
// requests as Apple does.
package apns
