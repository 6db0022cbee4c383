package totp_test

import (
	"bytes"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"

	"github.com/latchkey/latchkey/mfa/totp"
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// RFC 6238 Appendix B: T0 = 0, X = 30 s, 8 digits, and an ASCII seed whose
// length matches the hash.
func TestCodeRFC6238Vectors(t *testing.T) {
	seeds := map[string]string{
		"SHA1":   "12345678901234567890",
		"SHA256": "12345678901234567890123456789012",
		"SHA512": "1234567890123456789012345678901234567890123456789012345678901234",
	}
	vectors := []struct {
		unix int64
		alg  string
		code string
	}{
		{59, "SHA1", "94287082"},
		{59, "SHA256", "46119246"},
		{59, "SHA512", "90693936"},
		{1111111109, "SHA1", "07081804"},
		{1111111109, "SHA256", "68084774"},
		{1111111109, "SHA512", "25091201"},
		{1111111111, "SHA1", "14050471"},
		{1111111111, "SHA256", "67062674"},
		{1111111111, "SHA512", "99943326"},
		{1234567890, "SHA1", "89005924"},
		{1234567890, "SHA256", "91819424"},
		{1234567890, "SHA512", "93441116"},
		{2000000000, "SHA1", "69279037"},
		{2000000000, "SHA256", "90698825"},
		{2000000000, "SHA512", "38618901"},
		{20000000000, "SHA1", "65353130"},
		{20000000000, "SHA256", "77737706"},
		{20000000000, "SHA512", "47863826"},
	}
	for _, v := range vectors {
		t.Run(fmt.Sprintf("%s/%d", v.alg, v.unix), func(t *testing.T) {
			p := totp.Params{Algorithm: v.alg, Digits: 8}
			secret := b32.EncodeToString([]byte(seeds[v.alg]))
			at := time.Unix(v.unix, 0)
			got, err := totp.Code(p, secret, at)
			if err != nil {
				t.Fatal(err)
			}
			if got != v.code {
				t.Fatalf("Code = %s, want %s", got, v.code)
			}
			step, ok := totp.Verify(p, secret, v.code, at)
			if !ok || step != v.unix/30 {
				t.Fatalf("Verify = %d, %v; want %d, true", step, ok, v.unix/30)
			}
			// The same code is wrong with 6-digit params (it is too long)
			// and its last 6 digits are right: RFC 4226 §5.3 truncation.
			if _, ok := totp.Verify(totp.Params{Algorithm: v.alg}, secret, v.code, at); ok {
				t.Fatal("an 8-digit code verified with 6-digit params")
			}
			if _, ok := totp.Verify(totp.Params{Algorithm: v.alg}, secret, v.code[2:], at); !ok {
				t.Fatal("the 6-digit truncation did not verify")
			}
		})
	}
}

func TestVerifyWindow(t *testing.T) {
	key, err := totp.Generate("Latchkey", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	p := totp.DefaultParams()
	const period = 30 * time.Second
	// The first and the last second of a step, and one inside.
	for _, now := range []time.Time{time.Unix(1_700_000_010, 0), time.Unix(1_700_000_019, 999_000_000), time.Unix(1_700_000_029, 0)} {
		cur := p.Step(now)
		if cur != now.Unix()/30 {
			t.Fatalf("Step(%v) = %d", now, cur)
		}
		for d := int64(-3); d <= 3; d++ {
			c, err := totp.Code(p, key.Secret, now.Add(time.Duration(d)*period))
			if err != nil {
				t.Fatal(err)
			}
			// A code of another step may by chance equal the current one
			// (one in a million); then the window check says nothing.
			if collides(t, p, key.Secret, c, cur+d, cur) {
				continue
			}
			step, ok := totp.Verify(p, key.Secret, c, now)
			wantOK := d >= -1 && d <= 1
			if ok != wantOK {
				t.Errorf("now %v, step %+d: ok = %v, want %v", now, d, ok, wantOK)
			}
			if ok && step != cur+d {
				t.Errorf("now %v, step %+d: matched step %d, want %d", now, d, step, cur+d)
			}
			if !ok && step != 0 {
				t.Errorf("refused code returned step %d", step)
			}
		}
	}
}

// collides reports whether c, made for step madeFor, is also the code of
// another step in the window around cur.
func collides(t *testing.T, p totp.Params, secret, c string, madeFor, cur int64) bool {
	t.Helper()
	for s := cur - 1; s <= cur+1; s++ {
		other, err := totp.Code(p, secret, time.Unix(s*30, 0))
		if err != nil {
			t.Fatal(err)
		}
		if s != madeFor && other == c {
			return true
		}
	}
	return false
}

// When two steps of the window have the same code, Verify must return the
// latest, whatever the order of the comparisons.
func TestVerifyPrefersLatestStep(t *testing.T) {
	p := totp.Params{}
	secret := b32.EncodeToString([]byte("12345678901234567890"))
	codeAt := func(step int64) string {
		c, err := totp.Code(p, secret, time.Unix(step*30, 0))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// Search (deterministically, for this secret; about 150,000 steps)
	// for two steps of one window that share a code.
	before, mid := codeAt(0), codeAt(1)
	for s := int64(1); s < 10_000_000; s++ {
		after := codeAt(s + 1)
		var shared string
		var want int64
		switch {
		case before == after:
			shared, want = before, s+1
		case before == mid:
			shared, want = before, s
		case mid == after:
			shared, want = after, s+1
		default:
			before, mid = mid, after
			continue
		}
		step, ok := totp.Verify(p, secret, shared, time.Unix(s*30+15, 0))
		if !ok || step != want {
			t.Fatalf("window around step %d, shared code %s: Verify = %d, %v; want %d, true", s, shared, step, ok, want)
		}
		return
	}
	t.Fatal("no two steps of a window share a code: search bound too low")
}

func TestVerifyMalformedCodes(t *testing.T) {
	p := totp.Params{}
	secret := b32.EncodeToString([]byte("12345678901234567890"))
	now := time.Unix(1_700_000_000, 0)
	c, err := totp.Code(p, secret, now)
	if err != nil {
		t.Fatal(err)
	}
	fullWidth := strings.Map(func(r rune) rune { return r - '0' + '０' }, c)
	cases := []struct {
		name string
		code string
		ok   bool
	}{
		{"plain", c, true},
		{"spaces around and inside", " " + c[:3] + " " + c[3:] + "\t\n", true},
		{"no-break and ideographic spaces", c[:3] + "\u00a0" + c[3:] + "\u3000", true},
		{"full-width digits", fullWidth, true},
		{"empty", "", false},
		{"only spaces", "      ", false},
		{"too short", c[:5], false},
		{"too long", c + "0", false},
		{"dash", c[:3] + "-" + c[3:], false},
		{"sign", "+" + c[1:], false},
		{"letter", c[:5] + "a", false},
		{"arabic-indic digits", "١٢٣٤٥٦", false},
		{"invalid utf-8", "\xff" + c[1:], false},
		{"NUL", c[:5] + "\x00", false},
		{"huge", strings.Repeat(" ", 1<<20) + c, false},
		{"digits of 8", c + "00", false},
	}
	for _, tc := range cases {
		step, ok := totp.Verify(p, secret, tc.code, now)
		if ok != tc.ok {
			t.Errorf("%s: %q ok = %v, want %v", tc.name, tc.code, ok, tc.ok)
		}
		if ok && step != p.Step(now) {
			t.Errorf("%s: step %d, want %d", tc.name, step, p.Step(now))
		}
	}
}

func TestSecretLength(t *testing.T) {
	p := totp.Params{}
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		n  int
		ok bool
	}{{0, false}, {10, false}, {15, false}, {16, true}, {20, true}, {64, true}, {128, true}, {129, false}} {
		secret := b32.EncodeToString(bytes.Repeat([]byte{0x5a}, tc.n))
		c, err := totp.Code(p, secret, now)
		if (err == nil) != tc.ok {
			t.Errorf("%d-byte secret: Code error %v, want ok=%v", tc.n, err, tc.ok)
		}
		if err != nil && !errors.Is(err, totp.ErrInvalidSecret) {
			t.Errorf("%d-byte secret: error %v is not ErrInvalidSecret", tc.n, err)
		}
		if tc.ok {
			if _, ok := totp.Verify(p, secret, c, now); !ok {
				t.Errorf("%d-byte secret: its own code %s refused", tc.n, c)
			}
		} else {
			// Whatever the code, a bad secret verifies nothing.
			for _, guess := range []string{"000000", "123456", "999999"} {
				if _, ok := totp.Verify(p, secret, guess, now); ok {
					t.Errorf("%d-byte secret verified %s", tc.n, guess)
				}
			}
		}
	}
	for _, bad := range []string{"not base32!", "0189018901890189018901890189", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQO"} {
		if _, err := totp.Code(p, bad, now); !errors.Is(err, totp.ErrInvalidSecret) {
			t.Errorf("Code(%q) error = %v, want ErrInvalidSecret", bad, err)
		}
	}
}

func TestSecretForms(t *testing.T) {
	key, err := totp.Generate("Latchkey", "bob")
	if err != nil {
		t.Fatal(err)
	}
	p := totp.Params{}
	now := time.Unix(1_800_000_000, 0)
	want, err := totp.Code(p, key.Secret, now)
	if err != nil {
		t.Fatal(err)
	}
	// What a user or the dev tooling might paste: lower case, the
	// grouped manual-entry form, padded.
	for _, s := range []string{strings.ToLower(key.Secret), key.ManualEntry(), key.Secret + "===="} {
		got, err := totp.Code(p, s, now)
		if err != nil || got != want {
			t.Errorf("Code(%q) = %q, %v; want %q", s, got, err, want)
		}
	}
}

func TestParamsValidate(t *testing.T) {
	if err := (totp.Params{}).Validate(); err != nil {
		t.Fatalf("zero Params: %v", err)
	}
	if err := totp.DefaultParams().Validate(); err != nil {
		t.Fatalf("DefaultParams: %v", err)
	}
	if d := totp.DefaultParams(); d.Algorithm != "SHA1" || d.Digits != 6 || d.Period != 30*time.Second {
		t.Fatalf("DefaultParams = %+v", d)
	}
	for _, p := range []totp.Params{
		{Digits: 7}, {Digits: 10}, {Digits: -6},
		{Algorithm: "MD5"}, {Algorithm: "sha1"},
		{Period: 500 * time.Millisecond}, {Period: 30500 * time.Millisecond}, {Period: 10 * time.Second}, {Period: time.Hour}, {Period: -30 * time.Second},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", p)
		}
		if _, ok := totp.Verify(p, b32.EncodeToString(make([]byte, 20)), "000000", time.Unix(1e9, 0)); ok {
			t.Errorf("Verify with invalid %+v said ok", p)
		}
		if _, err := totp.Code(p, b32.EncodeToString(make([]byte, 20)), time.Unix(1e9, 0)); err == nil {
			t.Errorf("Code with invalid %+v: no error", p)
		}
		if _, err := totp.GenerateWith(p, "Latchkey", "alice"); err == nil {
			t.Errorf("GenerateWith invalid %+v: no error", p)
		}
	}
	// Every problem is reported at once.
	err := totp.Params{Algorithm: "MD5", Digits: 7, Period: time.Hour}.Validate()
	for _, want := range []string{"algorithm", "digits", "period"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %v does not mention %s", err, want)
		}
	}
}

func TestStep(t *testing.T) {
	p := totp.Params{}
	for _, tc := range []struct {
		unix int64
		want int64
	}{{0, 0}, {29, 0}, {30, 1}, {59, 1}, {-1, -1}, {-30, -1}, {-31, -2}} {
		if got := p.Step(time.Unix(tc.unix, 0)); got != tc.want {
			t.Errorf("Step(%d) = %d, want %d", tc.unix, got, tc.want)
		}
	}
	if got := (totp.Params{Period: 60 * time.Second}).Step(time.Unix(119, 0)); got != 1 {
		t.Errorf("60 s Step(119) = %d, want 1", got)
	}
	// No code exists before 1970; the first step's code is still accepted
	// in the window of the second before it.
	secret := b32.EncodeToString(make([]byte, 20))
	if _, err := totp.Code(p, secret, time.Unix(-1, 0)); err == nil {
		t.Error("Code before 1970: no error")
	}
	c0, err := totp.Code(p, secret, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if step, ok := totp.Verify(p, secret, c0, time.Unix(-1, 0)); !ok || step != 0 {
		t.Errorf("Verify step-0 code at -1 s = %d, %v", step, ok)
	}
}

func TestGenerate(t *testing.T) {
	key, err := totp.Generate("Latchkey", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b32.DecodeString(key.Secret)
	if err != nil || len(raw) != totp.SecretSize || totp.SecretSize*8 != 160 {
		t.Fatalf("secret %q decodes to %d bytes (%v), want 20", key.Secret, len(raw), err)
	}
	if strings.Contains(key.Secret, "=") {
		t.Errorf("secret %q is padded", key.Secret)
	}
	want := "otpauth://totp/Latchkey:alice@example.com?secret=" + key.Secret + "&issuer=Latchkey&algorithm=SHA1&digits=6&period=30"
	if key.URL != want {
		t.Errorf("URL = %s\nwant  %s", key.URL, want)
	}
	seen := map[string]bool{key.Secret: true}
	for range 100 {
		k, err := totp.Generate("Latchkey", "alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if seen[k.Secret] {
			t.Fatalf("secret %s generated twice", k.Secret)
		}
		seen[k.Secret] = true
	}

	k8, err := totp.GenerateWith(totp.Params{Digits: 8, Period: 60 * time.Second, Algorithm: "SHA256"}, "Latchkey", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(k8.URL, "&algorithm=SHA256&digits=8&period=60") {
		t.Errorf("URL with custom params = %s", k8.URL)
	}
}

func TestManualEntry(t *testing.T) {
	key, err := totp.Generate("Latchkey", "alice")
	if err != nil {
		t.Fatal(err)
	}
	m := key.ManualEntry()
	groups := strings.Split(m, " ")
	if len(groups) != 8 {
		t.Fatalf("ManualEntry %q has %d groups, want 8", m, len(groups))
	}
	for _, g := range groups {
		if len(g) != 4 {
			t.Errorf("group %q of %q is not 4 characters", g, m)
		}
	}
	if strings.ReplaceAll(m, " ", "") != key.Secret {
		t.Errorf("ManualEntry %q is not the secret %q", m, key.Secret)
	}
	if got := (totp.Key{Secret: "ABCDEFGHIJ"}).ManualEntry(); got != "ABCD EFGH IJ" {
		t.Errorf("ManualEntry of 10 characters = %q", got)
	}
}

// The link must survive issuers and accounts with characters that mean
// something in a URL, for net/url and for otp's own parser (which is what
// the apps' parsers resemble).
func TestURLRoundTrip(t *testing.T) {
	for _, tc := range []struct{ issuer, account string }{
		{"Latchkey", "alice@example.com"},
		{"R&D + Co = 100%", "bob?x=1#frag"},
		{"Acme Corp", "山田 太郎"},
		{"a/b;c,d", "first.last+tag@example.com"},
	} {
		key, err := totp.Generate(tc.issuer, tc.account)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(key.URL, " +#") {
			t.Errorf("URL %s has a raw space, '+' or '#'", key.URL)
		}
		u, err := url.Parse(key.URL)
		if err != nil {
			t.Fatalf("url.Parse(%s): %v", key.URL, err)
		}
		q := u.Query()
		if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/"+tc.issuer+":"+tc.account || u.Fragment != "" {
			t.Errorf("URL %s parses to scheme %q host %q path %q fragment %q", key.URL, u.Scheme, u.Host, u.Path, u.Fragment)
		}
		if len(q) != 5 || q.Get("secret") != key.Secret || q.Get("issuer") != tc.issuer ||
			q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" {
			t.Errorf("URL %s has query %v", key.URL, q)
		}

		k, err := otp.NewKeyFromURL(key.URL)
		if err != nil {
			t.Fatalf("otp.NewKeyFromURL(%s): %v", key.URL, err)
		}
		if k.Type() != "totp" || k.Issuer() != tc.issuer || k.AccountName() != tc.account || k.Secret() != key.Secret ||
			k.Period() != 30 || k.Digits() != otp.DigitsSix || k.Algorithm() != otp.AlgorithmSHA1 {
			t.Errorf("otp parses %s as type %q issuer %q account %q secret %q period %d digits %d alg %v",
				key.URL, k.Type(), k.Issuer(), k.AccountName(), k.Secret(), k.Period(), k.Digits(), k.Algorithm())
		}
	}
}

func TestGenerateRefusesBadLabels(t *testing.T) {
	for _, tc := range []struct{ issuer, account string }{
		{"", "alice"}, {"Latchkey", ""}, {"  ", "alice"}, {"Latchkey", "\t"},
		{"Latch:key", "alice"}, {"Latchkey", "alice:admin"}, {"Latchkey", "\xffalice"},
	} {
		if _, err := totp.Generate(tc.issuer, tc.account); !errors.Is(err, totp.ErrInvalidLabel) {
			t.Errorf("Generate(%q, %q) error = %v, want ErrInvalidLabel", tc.issuer, tc.account, err)
		}
	}
}

func TestKeyRedactsSecret(t *testing.T) {
	key, err := totp.Generate("Latchkey", "alice")
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("enrol", "key", key)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("enrol", "key", key)
	for _, out := range []string{fmt.Sprint(key), fmt.Sprintf("%v %+v %#v %s", key, key, key, key), logged.String()} {
		if strings.Contains(out, key.Secret) || strings.Contains(out, key.Secret[:8]) {
			t.Errorf("secret leaked: %s", out)
		}
		if !strings.Contains(out, "alice") {
			t.Errorf("output lost the account: %s", out)
		}
	}
}

// FuzzVerify: Verify never panics, never accepts a code with anything but
// white space and digits in it, and whatever it accepts is the code of
// the step it returns, within the window.
func FuzzVerify(f *testing.F) {
	secret := b32.EncodeToString([]byte("12345678901234567890"))
	f.Add("287082", int64(59), 6)
	f.Add("94287082", int64(59), 8)
	f.Add(" 287 082 ", int64(59), 6)
	f.Add("２８７０８２", int64(59), 6)
	f.Add("28708a", int64(59), 6)
	f.Add("", int64(-1), 0)
	f.Add("\xff\xfe", int64(1<<62), 7)
	f.Fuzz(func(t *testing.T, code string, unix int64, digits int) {
		p := totp.Params{Digits: digits}
		now := time.Unix(unix, 0)
		step, ok := totp.Verify(p, secret, code, now)
		if !ok {
			return
		}
		var typed strings.Builder
		for _, r := range code {
			switch {
			case r >= '0' && r <= '9':
				typed.WriteRune(r)
			case r >= '０' && r <= '９':
				typed.WriteRune(r - '０' + '0')
			case strings.TrimSpace(string(r)) == "":
			default:
				t.Fatalf("Verify accepted %q, which holds %q", code, r)
			}
		}
		if d := step - p.Step(now); d < -1 || d > 1 {
			t.Fatalf("Verify(%q, %d) matched step %d, outside the window of %d", code, unix, step, p.Step(now))
		}
		want, err := totp.Code(p, secret, time.Unix(step*30, 0))
		if err != nil {
			t.Fatalf("accepted %q but Code fails: %v", code, err)
		}
		if typed.String() != want {
			t.Fatalf("Verify accepted %q for step %d, whose code is %s", code, step, want)
		}
	})
}

func TestKeyFromSecret(t *testing.T) {
	k, err := totp.Generate("Latchkey", "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	again := totp.KeyFromSecret("Latchkey", "ann@example.com", k.Secret)
	if again != k {
		t.Errorf("KeyFromSecret = %+v, want %+v", again, k)
	}
	if c := totp.KeyFromSecret("A:B", "x:y", k.Secret); strings.Count(c.URL, ":") != 2 { // scheme and separator
		t.Errorf("colons not replaced: %s", c.URL)
	}
}
