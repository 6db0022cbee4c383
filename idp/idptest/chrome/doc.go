// Package chrome drives a real Chromium for Latchkey's browser tests.
//
// Each test gets its own browser process with a fresh profile (New), a
// deadline on everything it does (60 s unless WithTimeout), and, through the
// CDP WebAuthn domain, virtual authenticators (AddAuthenticator) that
// register and assert passkeys without a person. When the test fails, the
// cleanup prints the page's URL and title, the console and Chromium's own
// output, and saves a full-page screenshot under ArtifactsDir.
//
// The browser is Debian's chromium (/usr/bin/chromium; `make deps` installs
// it); LATCHKEY_CHROMIUM names another binary. Without one, browser tests
// skip with a hint on how to install it, except under CI=true, where they
// fail.
//
// WebAuthn needs a secure context and refuses an IP address as the RP ID,
// so pages must be opened at http://localhost:PORT, never at
// http://127.0.0.1:PORT: Localhost rewrites an httptest URL, and the server
// under test must use the same origin (its issuer and WebAuthn RP ID
// "localhost"), or the browser sends its cookies and credentials nowhere
// useful.
//
// A test from another package:
//
//	func TestPasskeySignIn(t *testing.T) {
//		b := chrome.New(t)                    // skips without Chromium
//		base := chrome.Localhost(srv.URL)     // http://localhost:PORT
//		auth := b.AddAuthenticator(nil)       // a platform authenticator
//		b.Open(base+"/login", "#username")
//		b.Type("Email", "ada@example.com")    // by label, name or id
//		b.Press(chrome.Enter)
//		b.WaitURL(rpCallback)                 // the OIDC redirect arrived
//		if n := len(auth.Credentials()); n != 1 { ... }
//		b.NoConsoleErrors()
//	}
//
// Things worth knowing about Chromium's virtual authenticators (seen with
// Chromium 156):
//   - A conditional-mediation request (autofill passkeys) resolves at once
//     with the first discoverable credential for the RP, without a click.
//   - With no matching credential, a modal .get() rejects at once with
//     NotAllowedError; with no authenticator at all it waits for its timeout.
//   - A failed user verification (SetUserVerified(false)) rejects at once
//     when the page asks for UV "required" or "preferred".
//   - A prompt nobody answers (SetPresence(false)) rejects with
//     NotAllowedError when the page's timeout runs out, exactly as a user's
//     "Cancel" does to the page; LimitWebAuthnTimeout keeps that short.
//   - The sign counter starts at 1 on registration and goes up by one per
//     assertion.
package chrome
