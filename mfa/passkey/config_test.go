package passkey

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigFromIssuer(t *testing.T) {
	tests := []struct {
		name        string
		issuer      string
		extra       []string
		wantRPID    string
		wantOrigins []string
		wantErr     string // substring; "" means success
	}{
		{name: "localhost http with port", issuer: "http://localhost:8080", wantRPID: "localhost", wantOrigins: []string{"http://localhost:8080"}},
		{name: "localhost http with path", issuer: "http://localhost:5556/dex", wantRPID: "localhost", wantOrigins: []string{"http://localhost:5556"}},
		{name: "localhost subdomain over http", issuer: "http://id.localhost:8080", wantRPID: "id.localhost", wantOrigins: []string{"http://id.localhost:8080"}},
		{name: "https host", issuer: "https://id.example.com", wantRPID: "id.example.com", wantOrigins: []string{"https://id.example.com"}},
		{name: "https host with port", issuer: "https://id.example.com:8443/", wantRPID: "id.example.com", wantOrigins: []string{"https://id.example.com:8443"}},
		{name: "upper case host lowered", issuer: "https://ID.Example.COM", wantRPID: "id.example.com", wantOrigins: []string{"https://id.example.com"}},
		{
			name: "extra origins appended", issuer: "https://id.example.com",
			extra:       []string{"https://login.id.example.com", "https://id.example.com:8443"},
			wantRPID:    "id.example.com",
			wantOrigins: []string{"https://id.example.com", "https://login.id.example.com", "https://id.example.com:8443"},
		},
		{name: "IPv4 loopback refused", issuer: "http://127.0.0.1:8080", wantErr: "use http://localhost"},
		{name: "IPv6 loopback refused", issuer: "http://[::1]:8080", wantErr: "use http://localhost"},
		{name: "https IP refused", issuer: "https://192.0.2.1", wantErr: "IP address"},
		{name: "http on a real host refused", issuer: "http://id.example.com", wantErr: "only on localhost"},
		{name: "not a URL", issuer: "not a url", wantErr: "not an absolute http(s) URL"},
		{name: "no scheme", issuer: "id.example.com", wantErr: "not an absolute http(s) URL"},
		{name: "unparsable", issuer: "http://[::1", wantErr: "parse issuer"},
		{name: "other scheme", issuer: "ftp://id.example.com", wantErr: "not an absolute http(s) URL"},
		{name: "empty", issuer: "", wantErr: "not an absolute http(s) URL"},
		{name: "extra origin elsewhere refused", issuer: "https://id.example.com", extra: []string{"https://evil.example.net"}, wantErr: "neither the RPID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ConfigFromIssuer(tt.issuer, "Latchkey", tt.extra)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ConfigFromIssuer(%q) error = %v, want one containing %q", tt.issuer, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ConfigFromIssuer(%q): %v", tt.issuer, err)
			}
			if cfg.RPID != tt.wantRPID || !slices.Equal(cfg.Origins, tt.wantOrigins) || cfg.RPName != "Latchkey" {
				t.Fatalf("ConfigFromIssuer(%q) = %+v, want RPID %q origins %q", tt.issuer, cfg, tt.wantRPID, tt.wantOrigins)
			}
			if _, err := New(cfg); err != nil {
				t.Fatalf("New(ConfigFromIssuer(%q)): %v", tt.issuer, err)
			}
		})
	}
}

func TestNewValidation(t *testing.T) {
	good := Config{RPID: "example.com", RPName: "Latchkey", Origins: []string{"https://id.example.com"}}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr []string // substrings; none means success
	}{
		{name: "valid", mod: func(*Config) {}},
		{name: "origin equal to RP ID", mod: func(c *Config) { c.Origins = []string{"https://example.com"} }},
		{name: "origin with port and trailing slash", mod: func(c *Config) { c.Origins = []string{"https://a.b.example.com:8443/"} }},
		{name: "localhost http", mod: func(c *Config) { c.RPID = "localhost"; c.Origins = []string{"http://localhost:8080"} }},
		{name: "UV required", mod: func(c *Config) { c.UserVerification = "required" }},
		{name: "UV preferred", mod: func(c *Config) { c.UserVerification = "preferred" }},
		{name: "timeout set", mod: func(c *Config) { c.Timeout = 10 * time.Minute }},

		{name: "empty RPID", mod: func(c *Config) { c.RPID = "" }, wantErr: []string{"RPID is empty"}},
		{name: "IPv4 RPID", mod: func(c *Config) { c.RPID = "127.0.0.1"; c.Origins = []string{"http://127.0.0.1:8080"} }, wantErr: []string{"use http://localhost"}},
		{name: "IPv6 RPID", mod: func(c *Config) { c.RPID = "::1" }, wantErr: []string{"IP address"}},
		{name: "RPID with scheme", mod: func(c *Config) { c.RPID = "https://example.com" }, wantErr: []string{"not a valid domain"}},
		{name: "RPID with port", mod: func(c *Config) { c.RPID = "example.com:443" }, wantErr: []string{"not a valid domain"}},
		{name: "upper case RPID", mod: func(c *Config) { c.RPID = "Example.com" }, wantErr: []string{"lower case"}},
		{name: "empty RPName", mod: func(c *Config) { c.RPName = " " }, wantErr: []string{"RPName is empty"}},
		{name: "no origins", mod: func(c *Config) { c.Origins = nil }, wantErr: []string{"Origins is empty"}},
		{name: "origin on another domain", mod: func(c *Config) { c.Origins = []string{"https://example.net"} }, wantErr: []string{"neither the RPID"}},
		{name: "origin merely ending in the RP ID", mod: func(c *Config) { c.Origins = []string{"https://evilexample.com"} }, wantErr: []string{"neither the RPID"}},
		{name: "origin on the parent domain", mod: func(c *Config) { c.RPID = "login.example.com"; c.Origins = []string{"https://example.com"} }, wantErr: []string{"neither the RPID"}},
		{name: "non-http origin", mod: func(c *Config) { c.Origins = []string{"ftp://id.example.com"} }, wantErr: []string{"scheme must be http or https"}},
		{name: "opaque origin", mod: func(c *Config) { c.Origins = []string{"android:apk-key-hash:abc"} }, wantErr: []string{"scheme must be http or https"}},
		{name: "origin without host", mod: func(c *Config) { c.Origins = []string{"https://"} }, wantErr: []string{"not an origin"}},
		{name: "origin with path", mod: func(c *Config) { c.Origins = []string{"https://id.example.com/login"} }, wantErr: []string{"without user, path"}},
		{name: "origin with query", mod: func(c *Config) { c.Origins = []string{"https://id.example.com?x=1"} }, wantErr: []string{"without user, path"}},
		{name: "http origin off localhost", mod: func(c *Config) { c.Origins = []string{"http://id.example.com"} }, wantErr: []string{"only on localhost"}},
		{name: "UV discouraged", mod: func(c *Config) { c.UserVerification = "discouraged" }, wantErr: []string{`UserVerification "discouraged"`}},
		{name: "UV misspelt", mod: func(c *Config) { c.UserVerification = "Required" }, wantErr: []string{"UserVerification"}},
		{name: "negative timeout", mod: func(c *Config) { c.Timeout = -time.Second }, wantErr: []string{"negative"}},
		{
			name: "all problems at once",
			mod: func(c *Config) {
				c.RPName = ""
				c.Origins = []string{"http://id.example.com", "https://example.org"}
				c.UserVerification = "always"
			},
			wantErr: []string{"RPName is empty", "only on localhost", "example.org", "UserVerification"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			cfg.Origins = slices.Clone(good.Origins)
			tt.mod(&cfg)
			s, err := New(cfg)
			if len(tt.wantErr) == 0 {
				if err != nil || s == nil {
					t.Fatalf("New(%+v) = %v, %v; want a service", cfg, s, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New(%+v) succeeded, want errors %q", cfg, tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	s, _ := newTestService(t, nil)
	options, _, err := s.BeginDiscoverableLogin()
	if err != nil {
		t.Fatal(err)
	}
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	if o.Timeout != int(DefaultTimeout/time.Millisecond) || o.UserVerification != UVPreferred {
		t.Fatalf("defaults: timeout %d, userVerification %q; want %d, %q", o.Timeout, o.UserVerification, DefaultTimeout.Milliseconds(), UVPreferred)
	}

	s, _ = newTestService(t, func(c *Config) { c.Timeout = 90 * time.Second; c.UserVerification = UVRequired })
	options, _, err = s.BeginDiscoverableLogin()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	if o.Timeout != 90000 || o.UserVerification != UVRequired {
		t.Fatalf("configured: timeout %d, userVerification %q", o.Timeout, o.UserVerification)
	}
}

// New must not keep the caller's Origins slice: changing it later must not
// change what is accepted.
func TestNewCopiesOrigins(t *testing.T) {
	origins := []string{testOrigin}
	s, _ := newTestService(t, func(c *Config) { c.Origins = origins })
	origins[0] = "http://evil.localhost:8080"
	a := newSoftAuthenticator(testOrigin)
	u := newUser("ada")
	register(t, s, a, u)
}
