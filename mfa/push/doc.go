// Package push is push approval with number matching: the device protocol
// a companion authenticator speaks with Latchkey, and the Sender contract
// of the push services that wake the device. docs/push-protocol.md is the
// protocol for app authors; this package is its executable half.
//
// A device is a P-256 key the phone made at enrolment; its id is the key's
// RFC 7638 thumbprint. Every device request is a compact JWS (ES256) with
// the public key in the header, so one code path serves a device Latchkey
// has never seen (enrolment) and a known one (the id names the stored
// device, and the id fixes the key):
//
//	enrol      POST {issuer}/push/enrol      one-time token from the QR code, push channel, permission
//	heartbeat  POST {issuer}/push/heartbeat  permission and push token, on start, foreground and change
//	fetch      POST {issuer}/push/challenge  a challenge's details; the delivery acknowledgement
//	answer     POST {issuer}/push/answer     {challenge, nonce, decision, number}
//
// A sign-in sends a content-free push ({iss, challenge}, see Message), the
// device fetches the details (never the number) and the user picks or
// types the two digits the sign-in page shows. ParseRequest verifies
// requests, NewChallenge and CheckAnswer do the number matching, Ready
// says whether a device can be expected to get a push at all, so that
// the sign-in moves on at once when it cannot.
//
// The package is pure: no storage, no HTTP handlers, no logging, only the
// standard library (go-jose stays in idp). Everything that needs state
// is the caller's and the store's, each one atomic update: single use of
// enrolment tokens and challenges, replayed jti values, wrong-number
// counts, the push budget per user and the lock after "this wasn't me".
// DeviceKey is the reference device the tests (and app authors) sign
// with.
package push
