package idp_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite/token/jwt"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/idp/keys"
	"github.com/latchkey/latchkey/idp/password"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/storage/sqlite"
)

// The benchmarks run the real server over loopback HTTP, on SQLite and on
// PostgreSQL, and report besides time how many store calls an operation
// makes and how long they take (store-calls/op, store-ms/op).
// BenchmarkCost breaks an operation down: password hash, signing, one
// store round trip.

type migratable interface {
	Migrate(ctx context.Context) error
}

func onBenchBackends(b *testing.B, run func(b *testing.B, st *meteredStore)) {
	open := map[string]func(b *testing.B) storage.Store{
		"sqlite": func(b *testing.B) storage.Store {
			s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		},
		"postgres": func(b *testing.B) storage.Store { return postgresStore(b) },
	}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			s := open[name](b)
			if err := s.(migratable).Migrate(context.Background()); err != nil {
				b.Fatal(err)
			}
			run(b, &meteredStore{Store: s})
		})
	}
}

// storeMeter reports the store's share of each operation from start on.
type storeMeter struct {
	st           *meteredStore
	calls, nanos int64
	byMethod     map[string]int64
	ops          int
}

func startMeter(st *meteredStore) *storeMeter {
	return &storeMeter{st: st, calls: st.calls.Load(), nanos: st.nanos.Load(), byMethod: st.methods()}
}

func (m *storeMeter) report(b *testing.B) {
	if m.ops == 0 {
		return
	}
	n := float64(m.ops)
	b.ReportMetric(float64(m.st.calls.Load()-m.calls)/n, "store-calls/op")
	b.ReportMetric(float64(m.st.nanos.Load()-m.nanos)/n/1e6, "store-ms/op")
	var calls []string
	for method, c := range m.st.methods() {
		if d := c - m.byMethod[method]; d > 0 {
			calls = append(calls, fmt.Sprintf("%s %.1f", method, float64(d)/n))
		}
	}
	slices.Sort(calls)
	b.Logf("store calls per op: %s", strings.Join(calls, ", "))
}

func benchClient() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{MaxIdleConnsPerHost: 8},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// postToken posts a token request and decodes a 200 answer.
func postToken(b *testing.B, c *http.Client, u, body, user, pass string) map[string]any {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(user, pass)
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("token: %d %s", resp.StatusCode, raw)
	}
	out := map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		b.Fatal(err)
	}
	return out
}

func BenchmarkTokenClientCredentials(b *testing.B) {
	onBenchBackends(b, func(b *testing.B, st *meteredStore) {
		env := idptest.New(b, idptest.WithStore(st))
		secret := env.CreateClient(storage.Client{ID: "batch", GrantTypes: []string{"client_credentials"}, Scopes: []string{"reports:read"}})
		c := benchClient()
		body := url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"}}.Encode()
		postToken(b, c, env.URL("/token"), body, "batch", secret) // warm up keys and connections
		m := startMeter(st)
		for b.Loop() {
			postToken(b, c, env.URL("/token"), body, "batch", secret)
			m.ops++
		}
		m.report(b)
	})
}

func BenchmarkTokenRefresh(b *testing.B) {
	onBenchBackends(b, func(b *testing.B, st *meteredStore) {
		f := newFixture(b, idptest.WithStore(st))
		_, tok := f.signIn(b, "openid", "offline_access")
		rt := tok.oauth.RefreshToken
		c := benchClient()
		m := startMeter(st)
		for b.Loop() {
			out := postToken(b, c, f.env.URL("/token"), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode(),
				webClientID, f.webSecret)
			rt, _ = out["refresh_token"].(string)
			m.ops++
		}
		m.report(b)
	})
}

// BenchmarkCodeFlow is one whole sign-in by a new browser: authorize,
// login page, password (OWASP default Argon2id parameters), the redirects
// back, the code exchange (id_token, access token) and userinfo.
func BenchmarkCodeFlow(b *testing.B) {
	onBenchBackends(b, func(b *testing.B, st *meteredStore) {
		f := newFixture(b, idptest.WithStore(st), idptest.WithPasswordParams(password.DefaultParams()))
		cfg := oauth2.Config{ClientID: webClientID, ClientSecret: f.webSecret, RedirectURL: webRedirect,
			Scopes: []string{"openid", "profile", "email"},
			Endpoint: oauth2.Endpoint{AuthURL: f.env.URL("/authorize"), TokenURL: f.env.URL("/token"),
				AuthStyle: oauth2.AuthStyleInHeader}}
		hc := benchClient()
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, hc)
		m := startMeter(st)
		for b.Loop() {
			a := newAuthRequest()
			browser := f.env.NewBrowser()
			browser.Client.Transport = hc.Transport
			redirect := browser.Login(cfg.AuthCodeURL(a.state, oauth2.S256ChallengeOption(a.verifier),
				oauth2.SetAuthURLParam("nonce", a.nonce)), userEmail, userPassword)
			tok, err := cfg.Exchange(ctx, redirect.Query().Get("code"), oauth2.VerifierOption(a.verifier))
			if err != nil {
				b.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, f.env.URL("/userinfo"), nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err := hc.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("userinfo: %v %v", resp, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			m.ops++
		}
		m.report(b)
	})
}

// BenchmarkCost measures the parts alone: one password verification with
// the default parameters, one JWT signature and verification per
// algorithm (as the provider's signer makes them), and store round trips.
func BenchmarkCost(b *testing.B) {
	b.Run("password-verify-default", func(b *testing.B) {
		h, err := password.NewHasher(password.DefaultParams())
		if err != nil {
			b.Fatal(err)
		}
		enc, _ := h.Hash(userPassword)
		for b.Loop() {
			if ok, _, _ := h.Verify(enc, userPassword); !ok {
				b.Fatal("verify failed")
			}
		}
	})
	env := idptest.New(b)
	claims := jwt.MapClaims{"iss": env.Issuer, "sub": "u-1234567890abcdef", "aud": []string{webClientID},
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "auth_time": time.Now().Unix(),
		"nonce": "n-0123456789", "acr": "urn:latchkey:acr:pwd", "amr": []string{"pwd"}, "sid": strings.Repeat("a", 64),
		"at_hash": "ZGNJv_yPkvUH87pKXuLJFg", "email": userEmail, "email_verified": true, "name": userName}
	for _, alg := range []string{keys.ES256, keys.RS256} {
		k, err := env.Keys.Signing(context.Background(), alg)
		if err != nil {
			b.Fatal(err)
		}
		jwk := &jose.JSONWebKey{Key: k.Private, KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"}
		sign := func() string {
			tok := jwt.NewWithClaims(jose.SignatureAlgorithm(alg), claims)
			tok.Header["kid"] = k.ID
			s, err := tok.SignedString(jwk)
			if err != nil {
				b.Fatal(err)
			}
			return s
		}
		b.Run("sign-"+alg, func(b *testing.B) {
			for b.Loop() {
				sign()
			}
		})
		signed := sign()
		b.Run("verify-"+alg, func(b *testing.B) {
			for b.Loop() {
				if _, err := jwt.Parse(signed, func(*jwt.Token) (any, error) { return k.Public, nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("store", func(b *testing.B) {
		onBenchBackends(b, func(b *testing.B, st *meteredStore) {
			ctx := context.Background()
			now := time.Now().UTC()
			if err := st.CreateClient(ctx, storage.Client{ID: "c", Scopes: []string{"openid"}, CreatedAt: now}); err != nil {
				b.Fatal(err)
			}
			b.Run("get-client", func(b *testing.B) {
				for b.Loop() {
					if _, err := st.GetClient(ctx, "c"); err != nil {
						b.Fatal(err)
					}
				}
			})
			data := make([]byte, 1500) // about the size of a stored grant
			_, _ = rand.Read(data)
			b.Run("token-create-get-deactivate", func(b *testing.B) {
				for b.Loop() {
					sig := rand.Text()
					t := storage.Token{Kind: storage.KindAccessToken, Signature: sig, RequestID: sig, ClientID: "c",
						Subject: "u", Active: true, RequestedAt: now, ExpiresAt: now.Add(time.Hour), Data: data}
					if err := st.CreateToken(ctx, t); err != nil {
						b.Fatal(err)
					}
					if _, err := st.GetToken(ctx, storage.KindAccessToken, sig); err != nil {
						b.Fatal(err)
					}
					if err := st.DeactivateToken(ctx, storage.KindAccessToken, sig); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	})
}
