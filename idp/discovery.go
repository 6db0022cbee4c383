package idp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/latchkey/latchkey/idp/keys"
	"github.com/latchkey/latchkey/mfa"
)

// buildDiscovery prepares the OpenID Provider metadata once at start-up: it
// lists exactly what this provider does, nothing aspirational.
func (p *Provider) buildDiscovery() ([]byte, error) {
	doc := map[string]any{
		"issuer":                                         p.issuer,
		"authorization_endpoint":                         p.url("/authorize"),
		"token_endpoint":                                 p.url("/token"),
		"userinfo_endpoint":                              p.url("/userinfo"),
		"jwks_uri":                                       p.url("/jwks.json"),
		"revocation_endpoint":                            p.url("/revoke"),
		"introspection_endpoint":                         p.url("/introspect"),
		"end_session_endpoint":                           p.url("/logout"),
		"scopes_supported":                               []string{"openid", "profile", "email", "offline_access"},
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          []string{"authorization_code", "refresh_token", "client_credentials"},
		"subject_types_supported":                        []string{"public"},
		"id_token_signing_alg_values_supported":          keys.Algorithms,
		"userinfo_signing_alg_values_supported":          []string{"none"},
		"token_endpoint_auth_methods_supported":          []string{"client_secret_basic", "client_secret_post", "none"},
		"revocation_endpoint_auth_methods_supported":     []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported":  []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":               []string{"S256"},
		"claims_supported":                               claimsSupported,
		"claims_parameter_supported":                     true,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
		"acr_values_supported":                           p.acrValuesSupported(),
		"prompt_values_supported":                        []string{"none", "login", "consent"},
		"ui_locales_supported":                           p.catalog.Languages(),
		"claims_locales_supported":                       p.catalog.Languages(),
		"authorization_response_iss_parameter_supported": true,
		"frontchannel_logout_supported":                  false,
		"backchannel_logout_supported":                   false,
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("build discovery: %w", err)
	}
	return b, nil
}

func (p *Provider) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(p.discovery)
}

// serveJWKS publishes the key set, rebuilt only when the keys change.
func (p *Provider) serveJWKS(w http.ResponseWriter, r *http.Request) error {
	b, err := p.keys.JWKS(r.Context())
	if err != nil {
		return fmt.Errorf("serve jwks: %w", err)
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	// Short enough that a rotation reaches clients well within RetainFor.
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err = w.Write(b)
	return err
}

// acrValuesSupported lists the levels and the configured aliases, sorted
// after the levels so the canonical names come first.
func (p *Provider) acrValuesSupported() []string {
	out := make([]string, 0, len(mfa.Levels))
	for _, l := range mfa.Levels {
		out = append(out, string(l))
	}
	var aliases []string
	for a := range p.policies.defaults.Aliases {
		aliases = append(aliases, a)
	}
	slices.Sort(aliases)
	return append(out, aliases...)
}
