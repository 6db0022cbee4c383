// Package fcm delivers Latchkey's content-free push to Android apps through
// Firebase Cloud Messaging HTTP v1. It implements push.Sender with the
// standard library only.
//
// # Authentication
//
// FCM v1 takes an OAuth 2.0 access token. The Sender gets one from the
// Google service-account key (the JSON file from the Firebase console) by
// the JWT bearer grant of RFC 7523 §2.1: an RS256 JWT {iss: client_email,
// scope: firebase.messaging, aud: token_uri, iat, exp = iat + 1h} posted to
// the key's token_uri. The token is cached until shortly before the
// expires_in the token endpoint announced; one fetch runs at a time, so a
// burst of sign-ins costs one token request. An answer 401 (the token was
// revoked or expired early) drops the cached token and retries once with a
// fresh one.
//
// # Message
//
// One data-only message per push:
//
//	{"message": {"token": ..., "data": {"iss": ..., "challenge": ...},
//	             "android": {"priority": "HIGH", "ttl": "120s"}}}
//
// No notification block: FCM would display it without the app, and its text
// would pass through Google. HIGH priority wakes the app from Doze so that it
// can fetch the sign-in's details and show its own notification; the TTL
// makes FCM drop a push it cannot deliver while the sign-in still waits.
//
// # Failures
//
// FCM answers a google.rpc.Status; *Error carries it. UNREGISTERED (404),
// INVALID_ARGUMENT about the registration token (400) and
// SENDER_ID_MISMATCH (403) wrap push.ErrUnregistered: the device must
// enrol again. 429, 500 and 503 (and 502/504 from the front ends) are retried
// with exponential back-off and jitter, honouring Retry-After, at most
// Config.MaxRetries times and never past the context's deadline. Refusals
// that no retry can fix (a 403 PERMISSION_DENIED, a key the token endpoint
// rejects) wrap ErrConfig.
//
// # Tests
//
// Package fcmtest is a local fake of the token endpoint and the send API
// that checks requests as Google does.
package fcm
