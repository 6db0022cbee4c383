// Package webpush delivers push challenges to the companion web app through
// the browser's push service, with the standard library only:
//
//   - RFC 8030 (the push protocol): one POST to the subscription's endpoint
//     with TTL (Message.TTL in seconds, DefaultTTL when unset), Urgency:
//     high, and Topic when Config.Topic is set, so that an undelivered
//     older request is replaced rather than queued.
//   - RFC 8291 with RFC 8188 (message encryption): the JSON of the
//     content-free push.Message ({"iss", "challenge"}) encrypted with
//     aes128gcm for the subscription's p256dh key and auth secret, a fresh
//     ephemeral ECDH key and salt per message, one 4096-octet record,
//     delimiter 0x02 and no padding. The tests reproduce RFC 8291 Section
//     5 and RFC 8188 Section 3.1 byte for byte.
//   - RFC 8292 (VAPID): "Authorization: vapid t=<JWT>, k=<public key>",
//     the JWT signed ES256 with aud the endpoint's origin, exp 12 hours
//     ahead and sub Config.Subject (mailto: or https:).
//
// # Keys
//
// GenerateVAPIDKey makes the application server key. Its public half
// (also Sender.PublicKey) is the applicationServerKey the companion app
// subscribes with; browsers then refuse pushes signed with any other key,
// so rotating the key means every device subscribes again.
//
// # Endpoints
//
// The endpoint comes from the device, so the sender posts only to the
// browsers' push services (DefaultPushServices, or Config.AllowedHosts),
// over https, never following redirects; anything else would let a device
// make Latchkey post wherever it likes. Errors name the push service's host
// and never the endpoint's path, which is the subscription's capability.
//
// # Failures
//
// Send returns errors matching push.ErrUnregistered when the device cannot
// be reached with this token any more: a 404 or 410 answer, or a token
// that is not a usable subscription (ErrInvalidSubscription, also for an
// expired one) or names an endpoint not allowed (ErrEndpointNotAllowed).
// 429, 5xx and failed requests are retried, at most Config.MaxRetries
// times, after exponential back-off with jitter or the service's
// Retry-After (up to 30 s), and never past the context's deadline; each
// attempt is bounded by Config.Timeout. Other answers (400, 401, 403, 413)
// match ErrRejected: a configuration problem, not the device's. Every
// answer other than 2xx is an *Error carrying the status.
//
// # Tests
//
// Package webpushtest is a fake push service for any package's tests: it
// checks requests as real services do (VAPID signature, audience, expiry,
// headers, size), decrypts each push with the subscription's private key
// and records the plaintext.
package webpush
