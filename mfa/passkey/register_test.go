package passkey

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/webauthn"
)

func TestRegistrationOptions(t *testing.T) {
	s, _ := newTestService(t, nil)
	u := newUser("ada")
	u.DisplayName = ""
	u.Credentials = []Credential{
		{ID: []byte("cred-one"), Transports: []string{"usb", "nfc"}},
		{ID: []byte("cred-two"), Transports: []string{"internal"}},
	}
	options, _, err := s.BeginRegistration(*u)
	if err != nil {
		t.Fatal(err)
	}
	var o creationOptions
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatalf("options are not the publicKey JSON: %v\n%s", err, options)
	}
	if o.RP.ID != "localhost" || o.RP.Name != "Latchkey" {
		t.Errorf("rp = %+v", o.RP)
	}
	if o.User.ID != b64.EncodeToString(u.ID) || o.User.Name != u.Name || o.User.DisplayName != u.Name {
		t.Errorf("user = %+v, want id %s, name and displayName %s", o.User, b64.EncodeToString(u.ID), u.Name)
	}
	if c, err := b64.DecodeString(o.Challenge); err != nil || len(c) < 16 {
		t.Errorf("challenge %q: %d bytes, %v", o.Challenge, len(c), err)
	}
	if !slices.ContainsFunc(o.PubKeyCredParams, func(p struct {
		Type string `json:"type"`
		Alg  int    `json:"alg"`
	}) bool {
		return p.Type == "public-key" && p.Alg == -7
	}) {
		t.Errorf("pubKeyCredParams %+v lack ES256", o.PubKeyCredParams)
	}
	sel := o.Selection
	if sel.ResidentKey != "required" || sel.RequireResidentKey == nil || !*sel.RequireResidentKey ||
		sel.UserVerification != "preferred" || sel.Attachment != "" {
		t.Errorf("authenticatorSelection = %+v", sel)
	}
	if o.Attestation != "none" {
		t.Errorf("attestation = %q", o.Attestation)
	}
	if o.Timeout != 300000 {
		t.Errorf("timeout = %d", o.Timeout)
	}
	want := []descriptor{
		{Type: "public-key", ID: b64.EncodeToString([]byte("cred-one")), Transports: []string{"usb", "nfc"}},
		{Type: "public-key", ID: b64.EncodeToString([]byte("cred-two")), Transports: []string{"internal"}},
	}
	if !slices.EqualFunc(o.ExcludeCredentials, want, func(a, b descriptor) bool {
		return a.Type == b.Type && a.ID == b.ID && slices.Equal(a.Transports, b.Transports)
	}) {
		t.Errorf("excludeCredentials = %+v, want %+v", o.ExcludeCredentials, want)
	}
	// The browser parser rejects unknown members only in some versions, but
	// it always requires these: make sure nothing is nested one level deep.
	var top map[string]json.RawMessage
	_ = json.Unmarshal(options, &top)
	if _, nested := top["publicKey"]; nested {
		t.Error("options are wrapped in publicKey; want the inner object")
	}
}

func TestBeginRegistrationRefusesBadUsers(t *testing.T) {
	s, _ := newTestService(t, nil)
	for name, u := range map[string]User{
		"empty handle":    {Name: "a@example.com"},
		"handle too long": {ID: make([]byte, 65), Name: "a@example.com"},
		"no name":         {ID: []byte{1}},
	} {
		if _, _, err := s.BeginRegistration(u); err == nil {
			t.Errorf("%s: BeginRegistration accepted %+v", name, u)
		}
	}
}

// The session is the library's SessionData as JSON, and it must survive the
// store unchanged: decoding and re-encoding gives the same bytes, and it
// holds what the options promised.
func TestSessionRoundTrip(t *testing.T) {
	s, clk := newTestService(t, func(c *Config) { c.UserVerification = UVRequired })
	u := newUser("ada")
	a := newSoftAuthenticator(testOrigin)
	register(t, s, a, u)
	u.Credentials = append(u.Credentials, Credential{ID: []byte("second"), Transports: []string{"usb"}})

	check := func(name string, options, session []byte, wantUser []byte, wantAllowed [][]byte) {
		t.Helper()
		var sd webauthn.SessionData
		if err := json.Unmarshal(session, &sd); err != nil {
			t.Fatalf("%s: session is not SessionData JSON: %v", name, err)
		}
		again, err := json.Marshal(sd)
		if err != nil || !bytes.Equal(again, session) {
			t.Fatalf("%s: session does not round-trip:\n%s\n%s", name, session, again)
		}
		var o struct {
			Challenge string `json:"challenge"`
		}
		_ = json.Unmarshal(options, &o)
		if sd.Challenge != o.Challenge {
			t.Errorf("%s: session challenge %q, options %q", name, sd.Challenge, o.Challenge)
		}
		if !bytes.Equal(sd.UserID, wantUser) {
			t.Errorf("%s: session user %x, want %x", name, sd.UserID, wantUser)
		}
		if !slices.EqualFunc(sd.AllowedCredentialIDs, wantAllowed, bytes.Equal) {
			t.Errorf("%s: allowed %q, want %q", name, sd.AllowedCredentialIDs, wantAllowed)
		}
		if sd.UserVerification != "required" {
			t.Errorf("%s: session UV %q", name, sd.UserVerification)
		}
		wantExp := clk.Now().Add(DefaultTimeout + sessionGrace)
		if !sd.Expires.Equal(wantExp) {
			t.Errorf("%s: expires %v, want %v", name, sd.Expires, wantExp)
		}
		if exp, err := SessionExpiry(session); err != nil || !exp.Equal(wantExp) {
			t.Errorf("%s: SessionExpiry = %v, %v", name, exp, err)
		}
	}

	options, session, err := s.BeginRegistration(*u)
	if err != nil {
		t.Fatal(err)
	}
	check("registration", options, session, u.ID, nil)
	options, session, err = s.BeginLogin(*u)
	if err != nil {
		t.Fatal(err)
	}
	check("login", options, session, u.ID, [][]byte{u.Credentials[0].ID, []byte("second")})
	options, session, err = s.BeginDiscoverableLogin()
	if err != nil {
		t.Fatal(err)
	}
	check("discoverable", options, session, nil, nil)

	if _, err := SessionExpiry([]byte("{}")); !errors.Is(err, ErrInvalidSession) {
		t.Errorf("SessionExpiry({}) error = %v", err)
	}
}

func TestRegistration(t *testing.T) {
	s, _ := newTestService(t, nil)
	a := newSoftAuthenticator(testOrigin)
	a.be, a.bs = true, false
	u := newUser("ada")
	c := register(t, s, a, u)

	if !bytes.Equal(c.ID, a.credID) || !bytes.Equal(c.AAGUID, a.aaguid) || c.AttestationType != "none" || c.SignCount != 0 {
		t.Errorf("credential = %+v", c)
	}
	if !c.UserPresent || !c.UserVerified || !c.BackupEligible || c.BackedUp {
		t.Errorf("flags UP %v UV %v BE %v BS %v, want true true true false", c.UserPresent, c.UserVerified, c.BackupEligible, c.BackedUp)
	}
	if !slices.Equal(c.Transports, []string{"hybrid", "internal"}) {
		t.Errorf("transports = %q", c.Transports)
	}
	// The stored public key is the authenticator's COSE key.
	var got, want map[int]any
	if err := cbor.Unmarshal(c.PublicKey, &got); err != nil {
		t.Fatalf("public key is not CBOR: %v", err)
	}
	_ = cbor.Unmarshal(a.coseKey(), &want)
	if gj, wj := jsonOf(t, got), jsonOf(t, want); gj != wj {
		t.Errorf("public key %s, want %s", gj, wj)
	}
	if !bytes.Equal(a.userHandle, u.ID) {
		t.Errorf("authenticator stored user handle %x, want %x", a.userHandle, u.ID)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRegistrationExcludeCredentials(t *testing.T) {
	s, _ := newTestService(t, nil)
	a := newSoftAuthenticator(testOrigin)
	u := newUser("ada")
	register(t, s, a, u)

	// A second attempt with the same authenticator: it sees its credential
	// in excludeCredentials and refuses.
	options, _, err := s.BeginRegistration(*u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.create(options); !errors.Is(err, errExcluded) {
		t.Fatalf("authenticator create = %v, want it excluded", err)
	}

	// An authenticator that ignores the list is caught at the finish.
	fresh := *u
	fresh.Credentials = nil
	options, session, err := s.BeginRegistration(fresh)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.create(options)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.FinishRegistration(*u, session, resp)
	wantErr(t, err, ErrAlreadyRegistered)

	// Another authenticator registers fine.
	b := newSoftAuthenticator(testOrigin)
	register(t, s, b, u)
	if len(u.Credentials) != 2 {
		t.Fatalf("user has %d credentials, want 2", len(u.Credentials))
	}
}

func TestRegistrationRefusals(t *testing.T) {
	tests := []struct {
		name    string
		uv      string
		tamper  func(a *softAuthenticator)
		session func(t *testing.T, s *Service, u *User, session []byte) []byte
		clock   time.Duration
		user    func(u User) User
		want    error
	}{
		{name: "wrong origin", tamper: func(a *softAuthenticator) { a.origin = "http://localhost:9999" }, want: ErrInvalidResponse},
		{name: "phishing origin", tamper: func(a *softAuthenticator) { a.origin = "https://1atchkey.example" }, want: ErrInvalidResponse},
		{name: "wrong RP ID hash", tamper: func(a *softAuthenticator) { a.rpID = "evil.localhost" }, want: ErrInvalidResponse},
		{name: "wrong challenge", tamper: func(a *softAuthenticator) { a.challenge = b64.EncodeToString(make([]byte, 32)) }, want: ErrInvalidResponse},
		{name: "get instead of create", tamper: func(a *softAuthenticator) { a.ceremonyType = "webauthn.get" }, want: ErrInvalidResponse},
		{name: "user not present", tamper: func(a *softAuthenticator) { a.up = false }, want: ErrInvalidResponse},
		{name: "backed up but not eligible", tamper: func(a *softAuthenticator) { a.be, a.bs = false, true }, want: ErrInvalidResponse},
		{name: "UV required, not done", uv: UVRequired, tamper: func(a *softAuthenticator) { a.uv = false }, want: ErrUserVerification},
		{
			name: "UV required, not done, wrong origin", uv: UVRequired,
			tamper: func(a *softAuthenticator) { a.uv = false; a.origin = "http://localhost:1" },
			want:   ErrInvalidResponse,
		},
		{name: "expired", clock: DefaultTimeout + sessionGrace, want: ErrExpired},
		{name: "just in time", clock: DefaultTimeout + sessionGrace - time.Second},
		{name: "UV preferred, not done", tamper: func(a *softAuthenticator) { a.uv = false }},
		{
			name: "another user's session",
			user: func(u User) User { u.ID = []byte("someone else"); return u },
			want: ErrInvalidSession,
		},
		{
			name: "login session",
			session: func(t *testing.T, s *Service, _ *User, _ []byte) []byte {
				_, session, err := s.BeginDiscoverableLogin()
				if err != nil {
					t.Fatal(err)
				}
				return session
			},
			want: ErrInvalidSession,
		},
		{
			name:    "corrupt session",
			session: func(*testing.T, *Service, *User, []byte) []byte { return []byte(`{"challenge":`) },
			want:    ErrInvalidSession,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newTestService(t, func(c *Config) { c.UserVerification = tt.uv })
			a := newSoftAuthenticator(testOrigin)
			if tt.tamper != nil {
				tt.tamper(a)
			}
			u := newUser("ada")
			options, session, err := s.BeginRegistration(*u)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := a.create(options)
			if err != nil {
				t.Fatal(err)
			}
			if tt.session != nil {
				session = tt.session(t, s, u, session)
			}
			clk.Advance(tt.clock)
			finishUser := *u
			if tt.user != nil {
				finishUser = tt.user(finishUser)
			}
			c, err := s.FinishRegistration(finishUser, session, resp)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("FinishRegistration: %v", err)
				}
				if c.UserVerified != a.uv {
					t.Fatalf("UserVerified = %v, authenticator uv %v", c.UserVerified, a.uv)
				}
				return
			}
			wantErr(t, err, tt.want)
			if c.ID != nil {
				t.Fatalf("refused registration returned credential %+v", c)
			}
		})
	}
}
