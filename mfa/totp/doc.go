// Package totp is Latchkey's authenticator-app factor: time-based one-time
// passwords (RFC 6238) on top of github.com/pquerna/otp.
//
// It covers the parts that need no state: making a secret and the
// otpauth:// link and QR code a user enrols it with (Generate,
// QRCodeSVG), and checking a code against a secret (Verify). Everything
// that needs state stays with the caller, which also owns the storage:
//
//   - The secret is returned in the clear; the caller seals it (AES-GCM)
//     before it reaches the store.
//   - Verify accepts the current time step and one either side, because
//     phone clocks drift and users type slowly (RFC 6238 §5.2), and returns
//     the step that matched. It cannot know whether that step was used
//     before: the caller must record it with the store's atomic
//     "step greater than the last used step" update (storage UseTOTPStep),
//     which is what makes a code, once accepted, worthless to a shoulder
//     surfer or a phishing proxy that relays it a second later.
//
// The defaults (SHA-1, 6 digits, 30 seconds) are the only parameters every
// authenticator app honours; some apps silently ignore the algorithm,
// digits and period of the link, so changing them locks those users out.
//
// Nothing here logs, and Key redacts its secret when printed or logged.
package totp
