package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

var consentTests = []subtest{
	{"RoundTripAndReplace", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		must(t, "CreateClient", s.CreateClient(ctx(t), fullClient("rp1")))
		c := storage.Consent{UserID: "u1", ClientID: "rp1", Scopes: []string{"openid", "email"}, GrantedAt: base}
		must(t, "SaveConsent", s.SaveConsent(ctx(t), c))
		got, err := s.GetConsent(ctx(t), "u1", "rp1")
		must(t, "GetConsent", err)
		equal(t, "GetConsent", got, c)

		c2 := storage.Consent{UserID: "u1", ClientID: "rp1", Scopes: []string{"openid", "profile", "offline_access"}, GrantedAt: at(time.Hour)}
		must(t, "SaveConsent replace", s.SaveConsent(ctx(t), c2))
		got, err = s.GetConsent(ctx(t), "u1", "rp1")
		must(t, "GetConsent", err)
		equal(t, "GetConsent after replace", got, c2)

		c3 := storage.Consent{UserID: "u1", ClientID: "rp1", Scopes: []string{}}
		must(t, "SaveConsent empty", s.SaveConsent(ctx(t), c3))
		got, err = s.GetConsent(ctx(t), "u1", "rp1")
		must(t, "GetConsent", err)
		equal(t, "GetConsent empty", got, storage.Consent{UserID: "u1", ClientID: "rp1"})
	}},
	{"GetMissing", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		must(t, "CreateClient", s.CreateClient(ctx(t), fullClient("rp1")))
		_, err := s.GetConsent(ctx(t), "u1", "rp1")
		wantErr(t, "GetConsent", err, storage.ErrNotFound)
	}},
	{"UnknownUserOrClient", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		must(t, "CreateClient", s.CreateClient(ctx(t), fullClient("rp1")))
		err := s.SaveConsent(ctx(t), storage.Consent{UserID: "ghost", ClientID: "rp1", GrantedAt: base})
		wantErr(t, "SaveConsent unknown user", err, storage.ErrNotFound)
		err = s.SaveConsent(ctx(t), storage.Consent{UserID: "u1", ClientID: "ghost", GrantedAt: base})
		wantErr(t, "SaveConsent unknown client", err, storage.ErrNotFound)
	}},
	{"ListAndDelete", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		withUser(t, s, "u2")
		for _, id := range []string{"rp-b", "rp-a", "RP-c"} {
			must(t, "CreateClient", s.CreateClient(ctx(t), fullClient(id)))
			must(t, "SaveConsent", s.SaveConsent(ctx(t), storage.Consent{
				UserID: "u1", ClientID: id, Scopes: []string{"openid", id}, GrantedAt: base}))
		}
		must(t, "SaveConsent u2", s.SaveConsent(ctx(t), storage.Consent{UserID: "u2", ClientID: "rp-a", GrantedAt: base}))

		got, err := s.ListConsents(ctx(t), "u1")
		must(t, "ListConsents", err)
		var ids []string
		for _, c := range got {
			ids = append(ids, c.ClientID)
		}
		equal(t, "ListConsents client ids", ids, []string{"RP-c", "rp-a", "rp-b"})
		equal(t, "ListConsents[1]", got[1], storage.Consent{UserID: "u1", ClientID: "rp-a", Scopes: []string{"openid", "rp-a"}, GrantedAt: base})

		must(t, "DeleteConsent", s.DeleteConsent(ctx(t), "u1", "rp-a"))
		wantErr(t, "DeleteConsent again", s.DeleteConsent(ctx(t), "u1", "rp-a"), storage.ErrNotFound)
		_, err = s.GetConsent(ctx(t), "u2", "rp-a")
		must(t, "GetConsent other user", err)
		got, err = s.ListConsents(ctx(t), "u1")
		must(t, "ListConsents", err)
		equal(t, "ListConsents after delete", len(got), 2)

		got, err = s.ListConsents(ctx(t), "nobody")
		must(t, "ListConsents nobody", err)
		equal(t, "ListConsents nobody", len(got), 0)
	}},
	{"DeleteClientCascades", func(t *testing.T, s storage.Store) {
		withUser(t, s, "u1")
		must(t, "CreateClient", s.CreateClient(ctx(t), fullClient("rp1")))
		must(t, "SaveConsent", s.SaveConsent(ctx(t), storage.Consent{UserID: "u1", ClientID: "rp1", GrantedAt: base}))
		must(t, "DeleteClient", s.DeleteClient(ctx(t), "rp1"))
		_, err := s.GetConsent(ctx(t), "u1", "rp1")
		wantErr(t, "GetConsent of deleted client", err, storage.ErrNotFound)
	}},
}

var throttleTests = []subtest{
	{"Missing", func(t *testing.T, s storage.Store) {
		got, err := s.GetThrottle(ctx(t), "login-ip:192.0.2.1")
		must(t, "GetThrottle", err)
		equal(t, "GetThrottle", got, storage.Throttle{Key: "login-ip:192.0.2.1"})
		must(t, "ResetThrottle missing", s.ResetThrottle(ctx(t), "login-ip:192.0.2.1"))
	}},
	{"CountAndReset", func(t *testing.T, s storage.Store) {
		const key, window = "login-account:abc", 15 * time.Minute
		steps := []struct {
			at   time.Time
			want int
		}{
			{base, 1},
			{at(time.Minute), 2},
			{at(16 * time.Minute), 3}, // 15m after the previous failure: not older
			{at(31*time.Minute + time.Microsecond), 1},
			{at(32 * time.Minute), 2},
		}
		for i, st := range steps {
			got, err := s.RecordFailure(ctx(t), key, st.at, window)
			must(t, "RecordFailure", err)
			equal(t, fmt.Sprintf("step %d", i), got, storage.Throttle{Key: key, Failures: st.want, LastFailureAt: st.at})
			read, err := s.GetThrottle(ctx(t), key)
			must(t, "GetThrottle", err)
			equal(t, fmt.Sprintf("step %d read back", i), read, got)
		}
		other, err := s.RecordFailure(ctx(t), "login-ip:192.0.2.1", base, window)
		must(t, "RecordFailure other key", err)
		equal(t, "other key", other.Failures, 1)

		must(t, "ResetThrottle", s.ResetThrottle(ctx(t), key))
		got, err := s.GetThrottle(ctx(t), key)
		must(t, "GetThrottle after reset", err)
		equal(t, "after reset", got, storage.Throttle{Key: key})
		got, err = s.RecordFailure(ctx(t), key, at(33*time.Minute), window)
		must(t, "RecordFailure after reset", err)
		equal(t, "first failure after reset", got.Failures, 1)
		got, err = s.GetThrottle(ctx(t), "login-ip:192.0.2.1")
		must(t, "GetThrottle other key", err)
		equal(t, "other key untouched", got.Failures, 1)
	}},
	{"LateClock", func(t *testing.T, s storage.Store) {
		// A node whose clock lags still counts, and does not move the
		// last failure backwards.
		const key = "k"
		_, err := s.RecordFailure(ctx(t), key, at(time.Minute), time.Hour)
		must(t, "RecordFailure", err)
		got, err := s.RecordFailure(ctx(t), key, base, time.Hour)
		must(t, "RecordFailure late", err)
		equal(t, "late failure", got, storage.Throttle{Key: key, Failures: 2, LastFailureAt: at(time.Minute)})
	}},
}

var auditTests = []subtest{
	{"AppendAndList", func(t *testing.T, s storage.Store) {
		events := []storage.AuditEvent{
			{Time: base, Type: "login.succeeded", UserID: "u1", ClientID: "rp1", IP: "192.0.2.1",
				RequestID: "req-1", Details: map[string]string{"acr": "urn:latchkey:acr:mfa", "amr": "pwd otp", "note": "日本"}},
			{Time: at(time.Minute), Type: "login.failed", UserID: "u2", IP: "2001:db8::1"},
			{Time: at(2 * time.Minute), Type: "login.failed", UserID: "u1", Details: map[string]string{}},
			{Time: at(-time.Hour), Type: "token.reuse_detected", ClientID: "rp1"},
		}
		for _, e := range events {
			e.ID = 999 // assigned by the store, not the caller
			must(t, "AppendAudit", s.AppendAudit(ctx(t), e))
		}
		got, err := s.ListAudit(ctx(t), storage.AuditFilter{})
		must(t, "ListAudit", err)
		if len(got) != 4 {
			t.Fatalf("ListAudit returned %d events, want 4", len(got))
		}
		// Newest first; ids are assigned in insertion order.
		for i, wantIdx := range []int{2, 1, 0, 3} {
			want := events[wantIdx]
			if len(want.Details) == 0 {
				want.Details = nil
			}
			want.ID = got[i].ID
			equal(t, fmt.Sprintf("event %d", i), got[i], want)
		}
		if !(got[2].ID < got[1].ID && got[1].ID < got[0].ID && got[2].ID < got[3].ID) || got[2].ID <= 0 {
			t.Fatalf("ids not assigned in insertion order: %d %d %d %d", got[0].ID, got[1].ID, got[2].ID, got[3].ID)
		}
	}},
	{"Filter", func(t *testing.T, s storage.Store) {
		add := func(d time.Duration, typ, user string) {
			must(t, "AppendAudit", s.AppendAudit(ctx(t), storage.AuditEvent{Time: at(d), Type: typ, UserID: user}))
		}
		add(0, "login.failed", "u1")
		add(time.Second, "login.succeeded", "u1")
		add(2*time.Second, "login.failed", "u2")
		add(3*time.Second, "login.failed", "u1")
		list := func(f storage.AuditFilter) []string {
			t.Helper()
			got, err := s.ListAudit(ctx(t), f)
			must(t, "ListAudit", err)
			var out []string
			for _, e := range got {
				out = append(out, e.Type+"/"+e.UserID+"/"+e.Time.Sub(base).String())
			}
			return out
		}
		equal(t, "by user", list(storage.AuditFilter{UserID: "u1"}),
			[]string{"login.failed/u1/3s", "login.succeeded/u1/1s", "login.failed/u1/0s"})
		equal(t, "by type", list(storage.AuditFilter{Type: "login.failed"}),
			[]string{"login.failed/u1/3s", "login.failed/u2/2s", "login.failed/u1/0s"})
		equal(t, "by both", list(storage.AuditFilter{UserID: "u1", Type: "login.failed"}),
			[]string{"login.failed/u1/3s", "login.failed/u1/0s"})
		equal(t, "limit", list(storage.AuditFilter{Type: "login.failed", Limit: 2}),
			[]string{"login.failed/u1/3s", "login.failed/u2/2s"})
		equal(t, "no match", len(list(storage.AuditFilter{UserID: "nobody"})), 0)
	}},
	{"SameInstant", func(t *testing.T, s storage.Store) {
		// Events of one instant come back newest-inserted first.
		for i := range 5 {
			must(t, "AppendAudit", s.AppendAudit(ctx(t), storage.AuditEvent{Time: base, Type: fmt.Sprint(i)}))
		}
		got, err := s.ListAudit(ctx(t), storage.AuditFilter{})
		must(t, "ListAudit", err)
		var types []string
		for _, e := range got {
			types = append(types, e.Type)
		}
		equal(t, "order", types, []string{"4", "3", "2", "1", "0"})
	}},
	{"DefaultLimit", func(t *testing.T, s storage.Store) {
		for i := range 105 {
			must(t, "AppendAudit", s.AppendAudit(ctx(t), storage.AuditEvent{Time: at(time.Duration(i) * time.Second), Type: "x"}))
		}
		got, err := s.ListAudit(ctx(t), storage.AuditFilter{})
		must(t, "ListAudit", err)
		equal(t, "default limit", len(got), 100)
		sameTime(t, "newest", got[0].Time, at(104*time.Second))
		got, err = s.ListAudit(ctx(t), storage.AuditFilter{Limit: 200})
		must(t, "ListAudit limit 200", err)
		equal(t, "limit 200", len(got), 105)
	}},
}
