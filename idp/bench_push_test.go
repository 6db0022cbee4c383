package idp_test

import (
	"context"
	"testing"

	"github.com/latchkey/latchkey/idp"
	"github.com/latchkey/latchkey/idp/idptest"
	"github.com/latchkey/latchkey/mfa"
	"github.com/latchkey/latchkey/mfa/push/pushtest"
)

// BenchmarkPushFallback times the fallback path: from "push is not
// possible" to the SMS request leaving Latchkey (the fake Twilio has it
// when the response arrives). Each op is the one GET /mfa that the
// password step redirects to, for a user whose push device
//
//   - notifications_disabled: reported notifications off in a heartbeat,
//     so the engine skips push and the SMS goes out at once;
//   - webpush_410: looks ready, but the push service answers 410 Gone
//     (the app was removed): the push is tried, the device marked
//     unregistered, and the SMS goes out in the same response.
//
// The sign-in before it (authorization request, password) and restoring
// the device between ops are not timed. SQLite, loopback HTTP, the real
// Web Push sender and Twilio client against their fakes.
func BenchmarkPushFallback(b *testing.B) {
	for _, c := range []struct {
		name string
		// prepare puts the device in the state the op starts from.
		prepare func(b *testing.B, dev *pushtest.Device)
	}{
		{"notifications_disabled", func(b *testing.B, dev *pushtest.Device) {}},
		{"webpush_410", func(b *testing.B, dev *pushtest.Device) {
			dev.Resubscribe()
			if st, err := dev.Heartbeat(context.Background()); err != nil || !st.PushReady {
				b.Fatalf("heartbeat: %+v %v", st, err)
			}
			dev.Unsubscribe()
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			f, dev := benchPushFixture(b)
			if c.name == "notifications_disabled" {
				dev.SetPermission("denied")
				if st, err := dev.Heartbeat(context.Background()); err != nil || st.PushReady {
					b.Fatalf("heartbeat: %+v %v", st, err)
				}
			}
			r := newRP(b, f.env, webClientID, f.webSecret, webRedirect)
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				c.prepare(b, dev)
				br := f.env.NewBrowser()
				mfaURL := passwordStep(b, br, f, r.url(newAuthRequest(), mfaReq()))
				sent := f.smsCount()
				b.StartTimer()
				page := br.Get(mfaURL)
				b.StopTimer()
				expectFactor(b, page, mfa.SMS)
				if f.smsCount() != sent+1 {
					b.Fatalf("%d SMS after the op, want %d", f.smsCount(), sent+1)
				}
				b.StartTimer()
			}
		})
	}
}

// benchPushFixture is a user with a push device and a phone, and limits
// high enough for any b.N.
func benchPushFixture(b *testing.B) (*pushFixture, *pushtest.Device) {
	b.Helper()
	pol := phonePolicy()
	pol.Limits.HourlyBudget = 1 << 30
	f, dev, _ := withPushDevice(b, pushUser{phone: true},
		func(o *idp.PushOptions) { o.PerWindow = 1 << 30 },
		func(o *idp.PhoneOptions) {
			o.Budgets = idp.PhoneBudgets{PerUser: 1 << 30, PerNumber: 1 << 30, PerPrefix: 1 << 30, PerCountry: 1 << 30,
				PerIP: 1 << 30, DailySpend: 1e12, SMSCost: 0.01, VoiceCost: 0.03}
		},
		idptest.WithPolicy(pol))
	return f, dev
}

// passwordStep opens authorizeURL in br, signs in with the password and
// follows the redirects up to the second-factor page, which it returns
// the URL of without requesting it.
func passwordStep(b *testing.B, br *idptest.Browser, f *pushFixture, authorizeURL string) string {
	b.Helper()
	login := br.Open(authorizeURL)
	res := submitNoFollow(b, br, login, map[string]string{"email": userEmail, "password": userPassword})
	for hops := 0; res.IsRedirect(); hops++ {
		next := res.Location()
		if next.Path == "/mfa" {
			return next.String()
		}
		if hops > 10 {
			break
		}
		res = br.Get(next.String())
	}
	b.Fatalf("the password step did not lead to /mfa: %s %d\n%s", res.URL, res.Status, res.Body)
	return ""
}

// submitNoFollow posts the page's form with set changed, without
// following the answer.
func submitNoFollow(b *testing.B, br *idptest.Browser, page *idptest.Response, set map[string]string) *idptest.Response {
	b.Helper()
	fm := page.Form()
	if fm == nil {
		b.Fatalf("no form on %s:\n%s", page.URL, page.Body)
	}
	v := fm.Fields
	for k, val := range set {
		v.Set(k, val)
	}
	u, err := page.URL.Parse(fm.Action)
	if err != nil {
		b.Fatal(err)
	}
	return br.PostForm(u.String(), v)
}
