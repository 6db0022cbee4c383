package idp

import (
	"context"
	"net/url"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/storage/sqlite"
	"github.com/latchkey/latchkey/mfa"
)

func TestParseACRRequest(t *testing.T) {
	req := time.Date(2026, 11, 22, 10, 0, 0, 700e6, time.UTC)
	sec := req.Truncate(time.Second)
	for _, tc := range []struct {
		name    string
		form    url.Values
		want    acrRequest
		wantErr bool
	}{
		{"nothing", url.Values{}, acrRequest{}, false},
		{"acr_values in order", url.Values{"acr_values": {" b  a "}}, acrRequest{values: []string{"b", "a"}}, false},
		{"max_age", url.Values{"max_age": {"300"}}, acrRequest{freshSince: sec.Add(-300 * time.Second)}, false},
		{"max_age zero", url.Values{"max_age": {"0"}}, acrRequest{freshSince: sec}, false},
		{"max_age huge is no limit", url.Values{"max_age": {"9223372036854775807"}}, acrRequest{}, false},
		{"max_age negative", url.Values{"max_age": {"-1"}}, acrRequest{}, true},
		{"max_age not a number", url.Values{"max_age": {"5m"}}, acrRequest{}, true},
		{"prompt=login", url.Values{"prompt": {"login consent"}}, acrRequest{freshSince: sec}, false},
		{"prompt=login beats a longer max_age", url.Values{"prompt": {"login"}, "max_age": {"60"}}, acrRequest{freshSince: sec}, false},
		{"essential claims acr", url.Values{"claims": {`{"id_token":{"acr":{"essential":true,"values":["x","y"]}}}`}},
			acrRequest{claims: []string{"x", "y"}, essential: true}, false},
		{"voluntary claims acr value", url.Values{"claims": {`{"id_token":{"acr":{"value":"x"}}}`}},
			acrRequest{claims: []string{"x"}}, false},
		{"userinfo acr counts", url.Values{"claims": {`{"userinfo":{"acr":{"essential":true,"value":"x"}}}`}},
			acrRequest{claims: []string{"x"}, essential: true}, false},
		{"claims without acr", url.Values{"claims": {`{"id_token":{"email":null}}`}}, acrRequest{}, false},
		{"claims not JSON", url.Values{"claims": {`{id_token`}}, acrRequest{}, true},
		{"claims of the wrong shape", url.Values{"claims": {`{"id_token":["acr"]}`}}, acrRequest{}, true},
		{"acr values of the wrong type", url.Values{"claims": {`{"id_token":{"acr":{"values":"x"}}}`}}, acrRequest{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseACRRequest(tc.form, req)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLockedUntil(t *testing.T) {
	l := mfa.Limits{LockAfter: 3, LockBase: mfa.Duration(time.Minute), LockMax: mfa.Duration(10 * time.Minute)}
	last := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for failures, want := range map[int]time.Duration{0: 0, 2: 0, 3: time.Minute, 4: 2 * time.Minute, 5: 4 * time.Minute,
		6: 8 * time.Minute, 7: 10 * time.Minute, 50: 10 * time.Minute} {
		got := lockedUntil(storage.Throttle{Failures: failures, LastFailureAt: last}, l)
		if want == 0 && !got.IsZero() || want != 0 && !got.Equal(last.Add(want)) {
			t.Errorf("%d failures: locked until %v, want +%v", failures, got, want)
		}
	}
}

func TestBudgetLeft(t *testing.T) {
	l := mfa.Limits{HourlyBudget: 5}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		t    storage.Throttle
		want int
	}{
		{storage.Throttle{}, 5},
		{storage.Throttle{Failures: 2, LastFailureAt: now.Add(-time.Minute)}, 3},
		{storage.Throttle{Failures: 9, LastFailureAt: now.Add(-time.Minute)}, 0},
		{storage.Throttle{Failures: 9, LastFailureAt: now.Add(-2 * time.Hour)}, 5},
	} {
		if got := budgetLeft(tc.t, l, now); got != tc.want {
			t.Errorf("budgetLeft(%+v) = %d, want %d", tc.t, got, tc.want)
		}
	}
}

func TestSessionProofsOfOldSessions(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	got := sessionProofs(storage.Session{AMR: []string{"pwd"}, AuthTime: at})
	if len(got) != 1 || got[0].Factor != mfa.Password || !got[0].At.Equal(at) {
		t.Errorf("a session without proofs but amr pwd: %+v", got)
	}
	if got := sessionProofs(storage.Session{}); got != nil {
		t.Errorf("an empty session: %+v", got)
	}
}

func TestSafeReturn(t *testing.T) {
	p := &Provider{basePath: "/idp"}
	for in, want := range map[string]string{
		"/idp/account": "/idp/account", "/idp/account/totp": "/idp/account/totp", "/idp/account?done=x": "/idp/account?done=x",
		"https://evil.example/": "/idp/account", "//evil.example/idp/account": "/idp/account", "/idp/accountx": "/idp/account",
		"/idp/account//evil": "/idp/account", "/idp/account/\\evil": "/idp/account", "": "/idp/account",
	} {
		if got := p.safeReturn(in); got != want {
			t.Errorf("safeReturn(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBrowserLabel(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36":                   "Chrome / Linux",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1": "Safari / iOS",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0":                                    "Firefox / Windows",
		"Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0":                               "Edge / Windows",
		"curl/8.0": "Browser",
	} {
		if got := browserLabel(ua); got != want {
			t.Errorf("browserLabel(%q) = %q, want %q", ua, got, want)
		}
	}
}

func TestPolicySource(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := &policySource{store: st, defaults: mfa.DefaultPolicy(), now: func() time.Time { return now }}

	got, err := src.get(ctx)
	if err != nil || !reflect.DeepEqual(got, mfa.DefaultPolicy()) {
		t.Fatalf("nothing stored: %+v %v, want the defaults", got, err)
	}
	// A stored document overrides field by field, seen after the refresh.
	if err := st.SavePolicy(ctx, storage.Policy{Data: []byte(`{"require_enrolment":true}`), UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if got, _ := src.get(ctx); got.RequireEnrolment {
		t.Error("the cached policy changed before the refresh interval")
	}
	now = now.Add(policyRefresh)
	got, err = src.get(ctx)
	if err != nil || !got.RequireEnrolment || got.Limits != mfa.DefaultPolicy().Limits {
		t.Errorf("stored over defaults: %+v %v", got, err)
	}
	// An invalid stored policy fails closed instead of weakening sign-in.
	if err := st.SavePolicy(ctx, storage.Policy{Data: []byte(`{"limits":{"max_attempts":0}}`), UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(policyRefresh)
	if _, err := src.get(ctx); err == nil {
		t.Error("an invalid stored policy was used")
	}
	if err := st.SavePolicy(ctx, storage.Policy{Data: []byte(`not json`), UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(policyRefresh)
	if _, err := src.get(ctx); err == nil {
		t.Error("an unreadable stored policy was used")
	}
}
