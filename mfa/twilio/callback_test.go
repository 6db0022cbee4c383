package twilio

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	twclient "github.com/twilio/twilio-go/client"

	"github.com/latchkey/latchkey/mfa/twilio/twiliotest"
)

const cbToken = "0123456789abcdef0123456789abcdef"

func signedRequest(t *testing.T, signedURL, token string, form url.Values) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://10.0.0.7:8080/twilio/status?c=42", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Twilio-Signature", twiliotest.Signature(token, signedURL, form))
	return r
}

func messageForm() url.Values {
	return url.Values{
		"AccountSid": {"AC0123456789abcdef0123456789abcdef"}, "ApiVersion": {"2010-04-01"},
		"MessageSid": {"SM0123456789abcdef0123456789abcdef"}, "SmsSid": {"SM0123456789abcdef0123456789abcdef"},
		"MessageStatus": {"undelivered"}, "SmsStatus": {"undelivered"}, "ErrorCode": {"30006"},
		"To": {"+14155550100"}, "NumSegments": {"2"}, "Price": {"-0.01580"}, "PriceUnit": {"USD"},
	}
}

func TestParseCallback(t *testing.T) {
	const public = "https://id.example.test/twilio/status?c=42"
	cb, err := ParseCallback(signedRequest(t, public, cbToken, messageForm()), public, cbToken)
	if err != nil {
		t.Fatalf("ParseCallback: %v", err)
	}
	want := Callback{
		AccountSID: "AC0123456789abcdef0123456789abcdef", MessageSID: "SM0123456789abcdef0123456789abcdef",
		Status: "undelivered", ErrorCode: 30006, To: "+14155550100", Segments: 2, Price: "-0.01580", PriceUnit: "USD",
	}
	if cb != want || !cb.Final() || !IsUndeliverable(cb.ErrorCode) {
		t.Errorf("callback = %+v, want %+v", cb, want)
	}

	call := url.Values{"CallSid": {"CA0123456789abcdef0123456789abcdef"}, "CallStatus": {"completed"},
		"AnsweredBy": {"machine_start"}, "CallDuration": {"21"}, "To": {"+14155550100"}}
	cb, err = ParseCallback(signedRequest(t, public, cbToken, call), public, cbToken)
	if err != nil {
		t.Fatalf("ParseCallback(call): %v", err)
	}
	if cb.CallSID == "" || cb.Status != "completed" || cb.AnsweredBy != "machine_start" || cb.Duration != 21*time.Second || !cb.Final() {
		t.Errorf("call callback = %+v", cb)
	}
}

func TestParseCallbackRefusesForgeries(t *testing.T) {
	const public = "https://id.example.test/twilio/status?c=42"
	// Signed for "undelivered", sent saying "delivered".
	f := messageForm()
	f.Set("MessageStatus", "delivered")
	tampered := httptest.NewRequest(http.MethodPost, "/twilio/status?c=42", strings.NewReader(f.Encode()))
	tampered.Header.Set("X-Twilio-Signature", twiliotest.Signature(cbToken, public, messageForm()))

	unsigned := signedRequest(t, public, cbToken, messageForm())
	unsigned.Header.Del("X-Twilio-Signature")

	for name, tc := range map[string]struct {
		r   *http.Request
		url string
	}{
		"other token": {signedRequest(t, public, "ffffffffffffffffffffffffffffffff", messageForm()), public},
		// Signed for the attacker's own URL, sent with Host: attacker: the
		// public URL from configuration is what counts.
		"other URL":       {signedRequest(t, "https://evil.example/twilio/status?c=42", cbToken, messageForm()), public},
		"other query":     {signedRequest(t, "https://id.example.test/twilio/status?c=43", cbToken, messageForm()), public},
		"http not https":  {signedRequest(t, "http://id.example.test/twilio/status?c=42", cbToken, messageForm()), public},
		"tampered params": {tampered, public},
		"missing":         {unsigned, public},
	} {
		if _, err := ParseCallback(tc.r, tc.url, cbToken); !errors.Is(err, ErrSignature) {
			t.Errorf("%s: err = %v, want ErrSignature", name, err)
		}
	}
}

func TestParseCallbackMalformed(t *testing.T) {
	const public = "https://id.example.test/cb"
	get := signedRequest(t, public, cbToken, messageForm())
	get.Method = http.MethodGet
	big := messageForm()
	big.Set("Body", strings.Repeat("x", maxCallbackBody))
	badCode := messageForm()
	badCode.Set("ErrorCode", "30006; DROP")
	both := messageForm()
	both.Set("CallSid", "CA0123456789abcdef0123456789abcdef")
	noStatus := messageForm()
	noStatus.Del("MessageStatus")
	noStatus.Del("SmsStatus")
	for name, r := range map[string]*http.Request{
		"GET":                  get,
		"oversized":            signedRequest(t, public, cbToken, big),
		"non-numeric code":     signedRequest(t, public, cbToken, badCode),
		"message and call SID": signedRequest(t, public, cbToken, both),
		"no status":            signedRequest(t, public, cbToken, noStatus),
	} {
		if _, err := ParseCallback(r, public, cbToken); !errors.Is(err, ErrMalformedCallback) {
			t.Errorf("%s: err = %v, want ErrMalformedCallback", name, err)
		}
	}
	if _, err := ParseCallback(signedRequest(t, public, "", messageForm()), public, ""); !IsConfigError(err) {
		t.Errorf("blank token: err = %v, want a configuration error", err)
	}
}

// Three implementations must agree: ours, the fake's and twilio-go's (on
// Twilio's own test vector), including the default-port variants.
func TestSignatureAgrees(t *testing.T) {
	const vectorURL = "https://mycompany.com/myapp.php?foo=1&bar=2"
	params := map[string]string{"Digits": "1234", "CallSid": "CA1234567890ABCDE", "To": "+18005551212",
		"Caller": "+14158675309", "From": "+14158675309", "ReasonConferenceEnded": "test", "Reason": "Participant"}
	form := url.Values{}
	for k, v := range params {
		form.Set(k, v)
	}
	const vector = "vOEb5UThFn24KEfnOFLQY2AE5FY=" // from twilio-go's request_validator_test.go
	if got := Signature("12345", vectorURL, form); got != vector {
		t.Errorf("Signature = %s, want Twilio's %s", got, vector)
	}
	for _, u := range []string{vectorURL, "https://mycompany.com:443/myapp.php?foo=1&bar=2"} {
		if !ValidSignature("12345", u, form, vector) {
			t.Errorf("ValidSignature(%s) = false", u)
		}
	}
	if ValidSignature("12345", "https://mycompany.com:8443/myapp.php?foo=1&bar=2", form, vector) {
		t.Error("a non-default port was accepted in place of none")
	}

	form.Add("StatusCallbackEvent", "initiated")
	form.Add("StatusCallbackEvent", "completed")
	ours, fakes := Signature(cbToken, vectorURL, form), twiliotest.Signature(cbToken, vectorURL, form)
	if ours != fakes {
		t.Errorf("Signature %s, twiliotest.Signature %s", ours, fakes)
	}
	single := url.Values{"A": {"1"}, "b": {"2"}}
	rv := twclient.NewRequestValidator(cbToken)
	if !rv.Validate(vectorURL, map[string]string{"A": "1", "b": "2"}, Signature(cbToken, vectorURL, single)) {
		t.Error("twilio-go's validator disagrees with Signature")
	}
}

// End to end: the fake posts signed callbacks to a receiver that verifies
// them against its public URL; a forged one is refused with 403.
func TestCallbacksFromFake(t *testing.T) {
	fake := twiliotest.New(t)
	rc := newReceiver(t, fake)
	fake.AutoCallbacks(true)
	fake.SetNumber(testTo, twiliotest.Number{SMSStatus: "undelivered", SMSErrorCode: 30005, AnsweredBy: "machine_start"})
	c, _ := newClient(t, fake, nil)
	sms, err := c.SendSMS(t.Context(), SMS{To: testTo, Body: "code", StatusCallback: rc.publicBase + "/twilio/sms?c=7"})
	if err != nil {
		t.Fatalf("SendSMS: %v", err)
	}
	call, err := c.Call(t.Context(), Call{To: testTo, Script: Script{Language: "en-US", Parts: []string{"code"}},
		StatusCallback: rc.publicBase + "/twilio/voice?c=7"})
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	fake.Wait()
	got, refused := rc.callbacks()
	if len(got) != 2 || len(refused) != 0 {
		t.Fatalf("received %+v, refused %v; want 2 accepted", got, refused)
	}
	for _, cb := range got {
		switch {
		case cb.MessageSID == sms.SID:
			if cb.Status != "undelivered" || cb.ErrorCode != 30005 || cb.To != testTo || !IsUndeliverable(cb.ErrorCode) {
				t.Errorf("SMS callback = %+v", cb)
			}
		case cb.CallSID == call.SID:
			if cb.Status != "completed" || cb.AnsweredBy != "machine_start" || cb.Duration == 0 {
				t.Errorf("call callback = %+v", cb)
			}
		default:
			t.Errorf("unexpected callback %+v", cb)
		}
	}

	status, err := fake.DeliverForged(sms.SID, "delivered", 0)
	if err != nil || status != http.StatusForbidden {
		t.Errorf("forged callback answered %d, %v; want 403", status, err)
	}
	if got, refused := rc.callbacks(); len(got) != 2 || len(refused) != 1 || !errors.Is(refused[0], ErrSignature) {
		t.Errorf("after forgery: %d accepted, refused %v", len(got), refused)
	}
	status, err = fake.Deliver(sms.SID, "delivered", 0)
	if err != nil || status != http.StatusNoContent {
		t.Errorf("on-demand callback answered %d, %v", status, err)
	}
}

func TestPublicURLIgnoresHost(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "http://evil.example/twilio/sms?c=7&x=%2B1", nil)
	r.Host = "evil.example"
	if got := PublicURL("https://id.example.test/", r); got != "https://id.example.test/twilio/sms?c=7&x=%2B1" {
		t.Errorf("PublicURL = %s", got)
	}
}

func FuzzParseCallback(f *testing.F) {
	const public = "https://id.example.test/cb"
	f.Add(messageForm().Encode(), twiliotest.Signature(cbToken, public, messageForm()))
	f.Add("CallSid=CA1&CallStatus=busy&CallDuration=-1", "")
	f.Add("%zz=1", "AAAA")
	f.Fuzz(func(t *testing.T, body, sig string) {
		r := httptest.NewRequest(http.MethodPost, "/cb", strings.NewReader(body))
		r.Header.Set("X-Twilio-Signature", sig)
		cb, err := ParseCallback(r, public, cbToken)
		if err != nil {
			return
		}
		form, perr := url.ParseQuery(body)
		if perr != nil || !ValidSignature(cbToken, public, form, sig) {
			t.Fatalf("accepted a callback without a valid signature: %q", body)
		}
		if (cb.MessageSID == "") == (cb.CallSID == "") || cb.Status == "" || cb.ErrorCode < 0 || cb.Duration < 0 {
			t.Fatalf("accepted an inconsistent callback %+v", cb)
		}
	})
}
