package twilio

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/twilio/twiliotest"
)

var (
	smsSIDRe  = regexp.MustCompile(`^SM[0-9a-f]{32}$`)
	callSIDRe = regexp.MustCompile(`^CA[0-9a-f]{32}$`)
)

func TestSendSMSWithMessagingService(t *testing.T) {
	fake := twiliotest.New(t)
	c, _ := newClient(t, fake, nil)
	res, err := c.SendSMS(t.Context(), SMS{
		To: testTo, Body: "Your Latchkey code is 123456", StatusCallback: "https://id.example.test/twilio/status?c=1",
		ValidityPeriod: 90*time.Second + time.Millisecond,
	})
	if err != nil {
		t.Fatalf("SendSMS: %v", err)
	}
	if !smsSIDRe.MatchString(res.SID) || res.Status != "accepted" || res.Segments != 1 || res.Price != "" {
		t.Errorf("result = %+v, want an SM SID, accepted, 1 segment, no price yet", res)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 {
		t.Fatalf("fake recorded %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.SID != res.SID || m.To != testTo || m.Body != "Your Latchkey code is 123456" ||
		m.MessagingServiceSID != testService || m.From != "" ||
		m.StatusCallback != "https://id.example.test/twilio/status?c=1" || m.ValidityPeriod != 91 || m.Host != "api.twilio.com" {
		t.Errorf("recorded message = %+v", m)
	}
}

func TestSendSMSWithFromNumber(t *testing.T) {
	fake := twiliotest.New(t)
	c, _ := newClient(t, fake, func(cfg *Config) { cfg.MessagingServiceSID, cfg.SMSFrom = "", testFrom })
	// 161 GSM characters take two segments.
	res, err := c.SendSMS(t.Context(), SMS{To: testTo, Body: strings.Repeat("1", 161)})
	if err != nil {
		t.Fatalf("SendSMS: %v", err)
	}
	if res.Status != "queued" || res.Segments != 2 {
		t.Errorf("result = %+v, want queued with 2 segments", res)
	}
	m := fake.Messages()[0]
	if m.From != testFrom || m.MessagingServiceSID != "" || m.StatusCallback != "" || m.ValidityPeriod != 0 {
		t.Errorf("recorded message = %+v, want From only and no callback or validity", m)
	}
}

func TestRetriesRateLimitThenSucceeds(t *testing.T) {
	fake := twiliotest.New(t)
	fake.SetNumber(testTo, twiliotest.Number{RateLimited: 2})
	c, sl := newClient(t, fake, nil)
	res, err := c.SendSMS(t.Context(), SMS{To: testTo, Body: "code 123456"})
	if err != nil {
		t.Fatalf("SendSMS: %v", err)
	}
	reqs := fake.Requests()
	if len(reqs) != 3 || reqs[0].Status != 429 || reqs[1].Status != 429 || reqs[2].Status != 201 {
		t.Fatalf("requests = %+v, want 429, 429, 201", reqs)
	}
	for _, r := range reqs {
		if r.Form.Encode() != reqs[0].Form.Encode() {
			t.Errorf("attempt sent %q, first sent %q: a retry must re-send the same message", r.Form.Encode(), reqs[0].Form.Encode())
		}
	}
	if msgs := fake.Messages(); len(msgs) != 1 || msgs[0].SID != res.SID {
		t.Errorf("messages = %+v, want exactly the one that succeeded", msgs)
	}
	// Exponential with jitter: attempt n waits within [base·2ⁿ/2, base·2ⁿ].
	d := sl.all()
	if len(d) != 2 || d[0] < backoffBase/2 || d[0] > backoffBase || d[1] < backoffBase || d[1] > 2*backoffBase {
		t.Errorf("back-off delays = %v, want one in [%v,%v] then one in [%v,%v]", d,
			backoffBase/2, backoffBase, backoffBase, 2*backoffBase)
	}
}

func TestRetriesHTMLServerError(t *testing.T) {
	fake := twiliotest.New(t)
	fake.SetNumber(testTo, twiliotest.Number{ServerErrors: 1, RateLimited: 1})
	c, sl := newClient(t, fake, nil)
	if _, err := c.Call(t.Context(), Call{To: testTo, Script: Script{Language: "en-US", Parts: []string{"hello"}}}); err != nil {
		t.Fatalf("Call: %v", err)
	}
	if n := len(fake.Requests()); n != 3 || len(sl.all()) != 2 {
		t.Errorf("%d requests and %d sleeps, want 3 and 2 (HTML 500, 429, success)", n, len(sl.all()))
	}
	if n := len(fake.Calls()); n != 1 {
		t.Errorf("%d calls recorded, want 1", n)
	}
}

func TestRetriesExhausted(t *testing.T) {
	fake := twiliotest.New(t)
	fake.SetNumber(testTo, twiliotest.Number{RateLimited: 10})
	c, sl := newClient(t, fake, func(cfg *Config) { cfg.MaxRetries = 2 })
	_, err := c.SendSMS(t.Context(), SMS{To: testTo, Body: "code"})
	var te *Error
	if !errors.As(err, &te) || te.Code != CodeTooManyRequests || te.HTTPStatus != 429 || !IsRateLimited(err) {
		t.Fatalf("err = %v, want *Error 20429 / 429", err)
	}
	if n := len(fake.Requests()); n != 3 || len(sl.all()) != 2 || len(fake.Messages()) != 0 {
		t.Errorf("%d requests, %d sleeps, %d messages; want 3, 2, 0", n, len(sl.all()), len(fake.Messages()))
	}
}

func TestNonJSONErrorBodyIsClean(t *testing.T) {
	fake := twiliotest.New(t)
	fake.SetNumber(testTo, twiliotest.Number{ServerErrors: 5})
	c, _ := newClient(t, fake, func(cfg *Config) { cfg.MaxRetries = -1 })
	_, err := c.SendSMS(t.Context(), SMS{To: testTo, Body: "code"})
	var te *Error
	if !errors.As(err, &te) || te.HTTPStatus != 500 || te.Code != 0 || !strings.Contains(te.Message, "text/html") {
		t.Fatalf("err = %#v (%v), want *Error HTTP 500 naming the text/html body", te, err)
	}
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("%d requests with retries off, want 1", n)
	}
}

func TestRetryNeverSleepsPastDeadline(t *testing.T) {
	fake := twiliotest.New(t)
	fake.SetNumber(testTo, twiliotest.Number{RateLimited: 1})
	c, sl := newClient(t, fake, nil)
	c.retry.Base, c.retry.Cap = time.Hour, time.Hour // the first delay cannot fit in the deadline
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err := c.SendSMS(ctx, SMS{To: testTo, Body: "code"})
	if !IsRateLimited(err) || !strings.Contains(err.Error(), "no time left") {
		t.Fatalf("err = %v, want the 20429 with no time left to retry", err)
	}
	if len(sl.all()) != 0 || len(fake.Requests()) != 1 {
		t.Errorf("slept %v over %d requests, want no sleep and 1 request", sl.all(), len(fake.Requests()))
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	fake := twiliotest.New(t)
	fake.SetNumber(testTo, twiliotest.Number{RateLimited: 5})
	ctx, cancel := context.WithCancel(t.Context())
	c, _ := newClient(t, fake, func(cfg *Config) {
		cfg.Sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	})
	_, err := c.SendSMS(ctx, SMS{To: testTo, Body: "code"})
	if !errors.Is(err, context.Canceled) || !IsRateLimited(err) {
		t.Fatalf("err = %v, want the 20429 and context.Canceled", err)
	}
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// blockingTransport holds each request until its context ends.
type blockingTransport struct{ entered chan struct{} }

func (b blockingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	b.entered <- struct{}{}
	<-req.Context().Done()
	return nil, req.Context().Err()
}

// twilio-go sends every request with context.Background: the client must
// still cancel a request in flight when the caller's context ends.
func TestContextCancelsRequestInFlight(t *testing.T) {
	fake := twiliotest.New(t)
	bt := blockingTransport{entered: make(chan struct{}, 1)}
	c, _ := newClient(t, fake, func(cfg *Config) { cfg.Transport = bt })
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-bt.entered; cancel() }()
	_, err := c.SendSMS(ctx, SMS{To: testTo, Body: "code"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestHTTPTimeoutApplies(t *testing.T) {
	fake := twiliotest.New(t)
	bt := blockingTransport{entered: make(chan struct{}, 1)}
	c, _ := newClient(t, fake, func(cfg *Config) { cfg.Transport, cfg.Timeout = bt, time.Millisecond })
	_, err := c.Lookup(context.Background(), testTo, false)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the http.Client timeout", err)
	}
}

func TestTwilioErrorsAreTypedAndNotRetried(t *testing.T) {
	for _, tc := range []struct {
		code  int
		is    func(error) bool
		label string
	}{
		{CodeInvalidNumber, IsInvalidNumber, "IsInvalidNumber"},
		{CodeUnsubscribed, IsUnsubscribed, "IsUnsubscribed"},
		{CodeNotMobile, IsNotMobile, "IsNotMobile"},
	} {
		t.Run(tc.label, func(t *testing.T) {
			fake := twiliotest.New(t)
			fake.SetNumber(testTo, twiliotest.Number{Error: tc.code})
			c, sl := newClient(t, fake, nil)
			_, err := c.SendSMS(t.Context(), SMS{To: testTo, Body: "code"})
			var te *Error
			if !errors.As(err, &te) || te.Code != tc.code || te.HTTPStatus != 400 ||
				te.MoreInfo != "https://www.twilio.com/docs/errors/"+strconv.Itoa(tc.code) || te.Message == "" {
				t.Fatalf("err = %v, want *Error %d with Twilio's message and link", err, tc.code)
			}
			if !tc.is(err) || IsConfigError(err) || IsRateLimited(err) {
				t.Errorf("%s = %v, IsConfigError = %v, IsRateLimited = %v", tc.label, tc.is(err), IsConfigError(err), IsRateLimited(err))
			}
			if len(fake.Requests()) != 1 || len(sl.all()) != 0 {
				t.Errorf("%d requests, %d sleeps: a client error must not be retried", len(fake.Requests()), len(sl.all()))
			}
		})
	}
}

func TestWrongCredentialsAreAConfigError(t *testing.T) {
	fake := twiliotest.New(t)
	c, sl := newClient(t, fake, func(cfg *Config) { cfg.AuthToken = "0123456789abcdef0123456789abcdef" })
	_, err := c.SendSMS(t.Context(), SMS{To: testTo, Body: "code"})
	if ErrorCode(err) != CodeAuthenticate || httpStatus(err) != 401 || !IsConfigError(err) {
		t.Fatalf("err = %v, want a 20003 configuration error", err)
	}
	if len(sl.all()) != 0 || len(fake.Messages()) != 0 {
		t.Errorf("retried or sent with wrong credentials")
	}
}

func TestInvalidNumberRefusedLocally(t *testing.T) {
	fake := twiliotest.New(t)
	c, _ := newClient(t, fake, nil)
	ctx := t.Context()
	script := Script{Language: "en-US", Parts: []string{"x"}}
	for _, to := range []string{"4155550100", "+0123", "+1 415 555 0100", "+1415555010/../x", ""} {
		_, e1 := c.SendSMS(ctx, SMS{To: to, Body: "code"})
		_, e2 := c.Call(ctx, Call{To: to, Script: script})
		_, e3 := c.Lookup(ctx, to, true)
		for _, err := range []error{e1, e2, e3} {
			if !IsInvalidNumber(err) || httpStatus(err) != 0 {
				t.Errorf("To %q: err = %v, want a local 21211", to, err)
			}
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests reached Twilio", n)
	}
}

func TestSendSMSArgumentChecks(t *testing.T) {
	fake := twiliotest.New(t)
	c, _ := newClient(t, fake, nil)
	for _, m := range []SMS{
		{To: testTo},
		{To: testTo, Body: "x", ValidityPeriod: -time.Second},
		{To: testTo, Body: "x", ValidityPeriod: 11 * time.Hour},
	} {
		if _, err := c.SendSMS(t.Context(), m); err == nil {
			t.Errorf("SendSMS(%+v) succeeded", m)
		}
	}
	if _, err := c.FetchMessage(t.Context(), "SM00/../../Calls"); err == nil {
		t.Error("FetchMessage accepted a malformed SID")
	}
}

func TestFetchMessageAfterDelivery(t *testing.T) {
	fake := twiliotest.New(t)
	rc := newReceiver(t, fake)
	fake.SetNumber(testTo, twiliotest.Number{SMSStatus: "undelivered", SMSErrorCode: 30003})
	c, _ := newClient(t, fake, nil)
	res, err := c.SendSMS(t.Context(), SMS{To: testTo, Body: "code", StatusCallback: rc.publicBase + "/twilio/sms"})
	if err != nil {
		t.Fatalf("SendSMS: %v", err)
	}
	if status, err := fake.Deliver(res.SID, "", 0); err != nil || status != http.StatusNoContent {
		t.Fatalf("Deliver = %d, %v", status, err)
	}
	got, err := c.FetchMessage(t.Context(), res.SID)
	if err != nil {
		t.Fatalf("FetchMessage: %v", err)
	}
	if got.SID != res.SID || got.Status != "undelivered" || got.ErrorCode != 30003 || got.Price == "" || got.PriceUnit != "USD" {
		t.Errorf("fetched %+v, want undelivered 30003 with a price", got)
	}
	if !IsUndeliverable(got.ErrorCode) {
		t.Errorf("IsUndeliverable(%d) = false", got.ErrorCode)
	}
}

func TestSendWithoutChannel(t *testing.T) {
	fake := twiliotest.New(t)
	smsOnly, _ := newClient(t, fake, func(cfg *Config) { cfg.VoiceFrom = "" })
	if _, err := smsOnly.Call(t.Context(), Call{To: testTo, Script: Script{Language: "en", Parts: []string{"x"}}}); !IsConfigError(err) {
		t.Errorf("Call without a voice number: err = %v, want a configuration error", err)
	}
	voiceOnly, _ := newClient(t, fake, func(cfg *Config) { cfg.MessagingServiceSID = "" })
	if _, err := voiceOnly.SendSMS(t.Context(), SMS{To: testTo, Body: "x"}); !IsConfigError(err) {
		t.Errorf("SendSMS without a sender: err = %v, want a configuration error", err)
	}
}

func TestIsUndeliverable(t *testing.T) {
	for code, want := range map[int]bool{30002: false, 30003: true, 30005: true, 30006: true, 30008: true, 30009: false, 21610: false, 0: false} {
		if got := IsUndeliverable(code); got != want {
			t.Errorf("IsUndeliverable(%d) = %v", code, got)
		}
	}
}
