package idp_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/latchkey/latchkey/idp"
	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/keys"
	"github.com/latchkey/latchkey/idp/storage"
)

// TestKeyRotation: after Manager.Rotate new tokens carry the new kid, and
// tokens signed before still verify through the JWKS, at the RP and at the
// provider's own endpoints, on this node and on another.
func TestKeyRotation(t *testing.T) { onBackends(t, testKeyRotation) }

func testKeyRotation(t *testing.T, opts ...idptest.Option) {
	f := newFixture(t, opts...)
	node2 := idptest.New(t, idptest.WithStore(f.env.Store), idptest.WithSecretKey(f.env.Options.SecretKey),
		idptest.WithProviderOptions(func(o *idp.Options) { o.Issuer = f.env.Issuer }))
	ctx := context.Background()
	r, before := f.signIn(t)
	kidBefore := kidOf(t, before.raw)
	// Warm node 2's cache with the old keys.
	if status, _, _ := getUserinfo(t, node2.URL("/userinfo"), before.oauth.AccessToken); status != http.StatusOK {
		t.Fatalf("node 2 userinfo before rotation: %d", status)
	}

	rotated, err := f.env.Keys.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	newKid := map[string]string{}
	for _, k := range rotated {
		newKid[k.Algorithm] = k.ID
	}

	_, after := f.signIn(t)
	if got := kidOf(t, after.raw); got != newKid[keys.ES256] || got == kidBefore {
		t.Fatalf("id_token kid after rotation = %s, want the new ES256 key %s", got, newKid[keys.ES256])
	}
	if got := kidOf(t, after.oauth.AccessToken); got != newKid[keys.ES256] {
		t.Errorf("access token kid after rotation = %s, want %s", got, newKid[keys.ES256])
	}
	kids := jwksKids(t, f.env.URL("/jwks.json"))
	if len(kids) != 4 || kids[kidBefore] != "ES256" || kids[newKid[keys.RS256]] != "RS256" {
		t.Errorf("JWKS after rotation = %v, want old and new keys", kids)
	}
	// The RP verifies both: the old token with the key it cached, the new
	// one after fetching the JWKS again for the unknown kid.
	for name, raw := range map[string]string{"old": before.raw, "new": after.raw} {
		if _, err := r.verifier.Verify(ctx, raw); err != nil {
			t.Errorf("go-oidc verifying the %s id_token: %v", name, err)
		}
	}
	// The old access token still works; the new one works on node 2,
	// which has not refreshed its keys yet.
	if status, _, _ := getUserinfo(t, f.env.URL("/userinfo"), before.oauth.AccessToken); status != http.StatusOK {
		t.Errorf("userinfo with a token signed by the retired key: %d", status)
	}
	if status, _, _ := getUserinfo(t, node2.URL("/userinfo"), after.oauth.AccessToken); status != http.StatusOK {
		t.Errorf("node 2 userinfo with a token signed by the new key: %d", status)
	}
	if got := f.introspect(t, before.oauth.AccessToken)["active"]; got != true {
		t.Errorf("introspecting a token of the retired key: active = %v", got)
	}

	// An RS256 client gets the new RS256 key.
	secret := f.env.CreateClient(storage.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"x"},
		IDTokenSigningAlg: keys.RS256})
	_, _, body := postForm(t, f.env.URL("/token"), url.Values{"grant_type": {"client_credentials"}}, "svc", secret)
	if at, _ := body["access_token"].(string); kidOf(t, at) != newKid[keys.RS256] {
		t.Errorf("RS256 client token kid = %s, want %s", kidOf(t, at), newKid[keys.RS256])
	}
	keySet := oidc.NewRemoteKeySet(ctx, f.env.URL("/jwks.json"))
	if _, err := keySet.VerifySignature(ctx, body["access_token"].(string)); err != nil {
		t.Errorf("RS256 access token does not verify with the JWKS: %v", err)
	}
}

func kidOf(t *testing.T, jwt string) string {
	t.Helper()
	if strings.Count(jwt, ".") != 2 {
		t.Fatalf("not a JWT: %.40q", jwt)
	}
	h, _ := jwtParts(t, jwt)
	kid, _ := h["kid"].(string)
	return kid
}
