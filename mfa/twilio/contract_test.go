package twilio

import (
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/twilio/twiliotest"
)

// TestContract sends every request the client makes, and every answer the
// fake gives, through Prism proxies of Twilio's published OpenAPI
// descriptions: a request Twilio would reject as malformed, or a fake
// answer real Twilio could not give, fails here. Both Prism instances start
// once, for all subtests, and stop when the test ends.
func TestContract(t *testing.T) {
	prism, specs := requirePrism(t)
	fake := twiliotest.New(t)
	rc := newReceiver(t, fake)

	var apiProxy, lookupsProxy *prismProxy
	var apiErr, lookupsErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		apiProxy, apiErr = startPrism(t, prism, filepath.Join(specs, "twilio_api_v2010.json"), fake.URL())
	})
	wg.Go(func() {
		lookupsProxy, lookupsErr = startPrism(t, prism, filepath.Join(specs, "twilio_lookups_v2.json"), fake.URL())
	})
	wg.Wait()
	if err := errors.Join(apiErr, lookupsErr); err != nil {
		t.Fatal(err)
	}
	t.Logf("prism ready: api in %s, lookups in %s", apiProxy.Startup.Round(time.Millisecond), lookupsProxy.Startup.Round(time.Millisecond))

	// client returns a client whose requests go through Prism, with its own
	// contract check.
	client := func(t *testing.T, edit func(*Config)) (*Client, *contractCheck) {
		check := &contractCheck{next: &twiliotest.Rewriter{Routes: map[string]string{
			"api.twilio.com":     apiProxy.URL,
			"lookups.twilio.com": lookupsProxy.URL,
		}}}
		c, _ := newClient(t, fake, func(cfg *Config) {
			cfg.Transport = check
			if edit != nil {
				edit(cfg)
			}
		})
		t.Cleanup(func() { check.verify(t) })
		return c, check
	}

	// The harness itself: a request that breaks the contract is caught.
	t.Run("violation detected", func(t *testing.T) {
		c, check := client(t, nil)
		c.cfg.MessagingServiceSID = "MG-not-a-service-sid" // past New's own check
		_, err := c.SendSMS(t.Context(), SMS{To: "+14155550110", Body: "code"})
		check.mu.Lock()
		caught := len(check.violations)
		check.violations = nil
		check.mu.Unlock()
		if httpStatus(err) != http.StatusUnprocessableEntity || caught == 0 {
			t.Errorf("err = %v with %d violations recorded, want Prism's 422 recorded", err, caught)
		}
		if n := len(fake.Messages()); n != 0 {
			t.Errorf("the malformed request reached the fake")
		}
	})

	t.Run("SMS with messaging service", func(t *testing.T) {
		c, _ := client(t, nil)
		res, err := c.SendSMS(t.Context(), SMS{To: "+14155550111", Body: "Latchkey: 123456",
			StatusCallback: rc.publicBase + "/twilio/sms?c=1", ValidityPeriod: 5 * time.Minute})
		if err != nil || res.Status != "accepted" {
			t.Fatalf("SendSMS = %+v, %v", res, err)
		}
		// Delivered, then read back with its price.
		if _, err := fake.Deliver(res.SID, "delivered", 0); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
		got, err := c.FetchMessage(t.Context(), res.SID)
		if err != nil || got.Status != "delivered" || got.Price == "" {
			t.Errorf("FetchMessage = %+v, %v", got, err)
		}
	})

	t.Run("SMS from number", func(t *testing.T) {
		c, _ := client(t, func(cfg *Config) { cfg.MessagingServiceSID, cfg.SMSFrom = "", testFrom })
		res, err := c.SendSMS(t.Context(), SMS{To: "+819012345678", Body: "Latchkey のコード: 123456",
			StatusCallback: rc.publicBase + "/twilio/sms?c=2", ValidityPeriod: time.Minute})
		if err != nil || res.Status != "queued" {
			t.Fatalf("SendSMS = %+v, %v", res, err)
		}
	})

	t.Run("call with TwiML", func(t *testing.T) {
		c, _ := client(t, nil)
		res, err := c.Call(t.Context(), Call{To: "+14155550112",
			Script:         Script{Language: "en-US", Parts: []string{"Your code is", "1 2 3 4 5 6", "Again", "1 2 3 4 5 6"}},
			StatusCallback: rc.publicBase + "/twilio/voice?c=3"})
		if err != nil || res.Status != "queued" {
			t.Fatalf("Call = %+v, %v", res, err)
		}
	})

	t.Run("lookup line type", func(t *testing.T) {
		fake.SetNumber("+14155550113", twiliotest.Number{LineType: "landline", Carrier: "AT&T"})
		c, _ := client(t, nil)
		info, err := c.Lookup(t.Context(), "+14155550113", false)
		if err != nil || info.LineType != Landline || info.Carrier != "AT&T" {
			t.Fatalf("Lookup = %+v, %v", info, err)
		}
	})

	t.Run("lookup SIM swap", func(t *testing.T) {
		fake.SetNumber("+447700900011", twiliotest.Number{SIMSwapDate: time.Now().Add(-time.Hour)})
		fake.SetNumber("+447700900012", twiliotest.Number{SwappedPeriod: "PT48H", SwappedInPeriod: true})
		fake.SetNumber("+447700900013", twiliotest.Number{Invalid: true})
		c, _ := client(t, nil)
		for _, n := range []string{"+447700900011", "+447700900012"} {
			info, err := c.Lookup(t.Context(), n, true)
			if err != nil || info.SIMSwap == nil || !info.SIMSwap.SwappedInPeriod {
				t.Errorf("Lookup(%s) = %+v, %v", n, info, err)
			}
		}
		if info, err := c.Lookup(t.Context(), "+447700900013", true); err != nil || info.Valid {
			t.Errorf("Lookup(invalid) = %+v, %v", info, err)
		}
	})

	t.Run("Twilio errors", func(t *testing.T) {
		fake.SetNumber("+14155550114", twiliotest.Number{Error: CodeInvalidNumber})
		fake.SetNumber("+14155550115", twiliotest.Number{Error: CodeUnsubscribed})
		fake.SetNumber("+14155550116", twiliotest.Number{Error: CodeNotMobile})
		c, check := client(t, nil)
		for n, is := range map[string]func(error) bool{
			"+14155550114": IsInvalidNumber, "+14155550115": IsUnsubscribed, "+14155550116": IsNotMobile,
		} {
			if _, err := c.SendSMS(t.Context(), SMS{To: n, Body: "code"}); !is(err) {
				t.Errorf("SendSMS(%s) err = %v", n, err)
			}
		}
		if _, err := c.Call(t.Context(), Call{To: "+14155550114", Script: Script{Language: "en", Parts: []string{"x"}}}); !IsInvalidNumber(err) {
			t.Errorf("Call err = %v", err)
		}
		if got := check.seen(); !slices.Equal(got, []int{400, 400, 400, 400}) {
			t.Errorf("statuses through Prism %v, want the fake's four 400s", got)
		}
	})

	t.Run("retries through Prism", func(t *testing.T) {
		fake.SetNumber("+14155550117", twiliotest.Number{ServerErrors: 1, RateLimited: 1})
		fake.SetNumber("+14155550118", twiliotest.Number{ServerErrors: 1})
		c, check := client(t, nil)
		if _, err := c.SendSMS(t.Context(), SMS{To: "+14155550117", Body: "code"}); err != nil {
			t.Errorf("SendSMS: %v", err)
		}
		if _, err := c.Lookup(t.Context(), "+14155550118", false); err != nil {
			t.Errorf("Lookup: %v", err)
		}
		if got := check.seen(); !slices.Equal(got, []int{500, 429, 201, 500, 200}) {
			t.Errorf("statuses through Prism %v", got)
		}
	})

	t.Run("wrong credentials", func(t *testing.T) {
		c, _ := client(t, func(cfg *Config) { cfg.AuthToken = "0000000000000000000000000000dead" })
		if _, err := c.SendSMS(t.Context(), SMS{To: "+14155550119", Body: "code"}); !IsConfigError(err) || httpStatus(err) != http.StatusUnauthorized {
			t.Errorf("err = %v, want the fake's 401 / 20003", err)
		}
	})
}
