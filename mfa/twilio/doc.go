// Package twilio sends one-time codes by SMS and voice through Twilio and
// looks phone numbers up; it is the only package that imports twilio-go.
//
// # Channels
//
//   - SMS: the Messages API, from a Messaging Service (preferred) or a From
//     number, with a StatusCallback for delivery reports and a
//     ValidityPeriod so that a code stuck in Twilio's queue is dropped
//     rather than delivered stale.
//   - Voice: the Calls API with inline TwiML: each part of a Script in a
//     <Say> in the user's language, one-second pauses between; a ring
//     Timeout, a TimeLimit and machine detection (MachineDetection says why
//     "Enable").
//   - Lookup v2: line_type_intelligence when a number is enrolled, and
//     sim_swap before phone-based recovery.
//
// # Failures
//
// Twilio's JSON error bodies become *Error; callers branch with
// IsInvalidNumber (21211), IsUnsubscribed (21610: use voice), IsNotMobile
// (21614), IsConfigError (20003 wrong credentials ...: log at error level)
// and, for delivery reports, IsUndeliverable (30003-30008). 20429 and 5xx
// answers are retried inside the client, re-sending the same request, with
// exponential back-off and jitter, at most Config.MaxRetries times and
// never past the context's deadline. twilio-go takes no context: each
// attempt runs under the caller's context and Config.Timeout.
//
// # Callbacks
//
// ParseCallback verifies X-Twilio-Signature against the public URL from
// configuration (never the Host header) and returns the status; a forged or
// missing signature is ErrSignature (answer 403).
//
// # Tests
//
// Package twiliotest is a fake Twilio for any package's tests. This
// package's contract test runs the client and the fake through Prism
// proxies of Twilio's published OpenAPI descriptions (.ci/ensure-prism
// installs Prism; without it the test skips, or fails under CI=true).
package twilio
