package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	// ErrSignature: the callback's X-Twilio-Signature is missing or does not
	// match; the request did not come from Twilio (answer 403).
	ErrSignature = errors.New("twilio: callback signature invalid")
	// ErrMalformedCallback: not a form POST, too large, or a field that
	// cannot be parsed (answer 400).
	ErrMalformedCallback = errors.New("twilio: malformed callback")
)

// maxCallbackBody bounds a status callback's body; Twilio's are about 1 KiB.
const maxCallbackBody = 64 << 10

// Callback is a status callback from Twilio about a message or a call.
type Callback struct {
	AccountSID string
	MessageSID string // set for a message callback
	CallSID    string // set for a call callback
	// Status is MessageStatus (queued, sent, delivered, undelivered,
	// failed ...) or CallStatus (completed, busy, no-answer, failed,
	// canceled ...).
	Status     string
	ErrorCode  int    // 30003-30008 for undelivered SMS (see IsUndeliverable); 0 when none
	To         string // E.164
	Price      string // when Twilio includes it; see Client.FetchMessage
	PriceUnit  string
	Segments   int           // NumSegments, when included
	AnsweredBy string        // calls with machine detection: human, machine_start, fax, unknown ...
	Duration   time.Duration // CallDuration, for completed calls
}

// Final reports whether the status is one Twilio will not change again.
func (cb Callback) Final() bool {
	if cb.CallSID != "" {
		return slices.Contains([]string{"completed", "busy", "no-answer", "failed", "canceled"}, cb.Status)
	}
	return slices.Contains([]string{"delivered", "undelivered", "failed", "read", "canceled"}, cb.Status)
}

// ParseCallback verifies a status callback's X-Twilio-Signature and returns
// its fields. callbackURL is the exact URL Twilio was given as
// StatusCallback, query string included (see PublicURL), never one rebuilt
// from the Host header, which whoever sends the request chooses. The
// signature is Twilio's: base64(HMAC-SHA1(authToken, URL + each POST
// parameter's name and value, sorted by name)).
func ParseCallback(r *http.Request, callbackURL, authToken string) (Callback, error) {
	if authToken == "" {
		return Callback{}, fmt.Errorf("twilio: parse callback: %w: no auth token", ErrConfig)
	}
	if r.Method != http.MethodPost {
		return Callback{}, fmt.Errorf("%w: method %s", ErrMalformedCallback, r.Method)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCallbackBody+1))
	if err != nil {
		return Callback{}, fmt.Errorf("%w: read body: %w", ErrMalformedCallback, err)
	}
	if len(body) > maxCallbackBody {
		return Callback{}, fmt.Errorf("%w: body over %d bytes", ErrMalformedCallback, maxCallbackBody)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return Callback{}, fmt.Errorf("%w: %w", ErrMalformedCallback, err)
	}
	sig := r.Header.Get("X-Twilio-Signature")
	if sig == "" {
		return Callback{}, fmt.Errorf("%w: no X-Twilio-Signature header", ErrSignature)
	}
	if !ValidSignature(authToken, callbackURL, form, sig) {
		return Callback{}, ErrSignature
	}
	return callbackFields(form)
}

// ParseCallback is ParseCallback with the client's auth token.
func (c *Client) ParseCallback(r *http.Request, callbackURL string) (Callback, error) {
	return ParseCallback(r, callbackURL, c.cfg.AuthToken)
}

func callbackFields(form url.Values) (Callback, error) {
	cb := Callback{
		AccountSID: form.Get("AccountSid"),
		MessageSID: form.Get("MessageSid"),
		CallSID:    form.Get("CallSid"),
		To:         form.Get("To"),
		Price:      form.Get("Price"),
		PriceUnit:  form.Get("PriceUnit"),
		AnsweredBy: form.Get("AnsweredBy"),
	}
	switch {
	case cb.MessageSID != "" && cb.CallSID == "":
		cb.Status = form.Get("MessageStatus")
		if cb.Status == "" {
			cb.Status = form.Get("SmsStatus") // the older name, still sent
		}
	case cb.CallSID != "" && cb.MessageSID == "":
		cb.Status = form.Get("CallStatus")
	default:
		return Callback{}, fmt.Errorf("%w: neither (or both) MessageSid and CallSid", ErrMalformedCallback)
	}
	if cb.Status == "" {
		return Callback{}, fmt.Errorf("%w: no status", ErrMalformedCallback)
	}
	var err error
	if cb.ErrorCode, err = optInt(form, "ErrorCode"); err != nil {
		return Callback{}, err
	}
	if cb.Segments, err = optInt(form, "NumSegments"); err != nil {
		return Callback{}, err
	}
	secs, err := optInt(form, "CallDuration")
	if err != nil {
		return Callback{}, err
	}
	cb.Duration = time.Duration(secs) * time.Second
	return cb, nil
}

func optInt(form url.Values, name string) (int, error) {
	v := form.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 1<<30 {
		return 0, fmt.Errorf("%w: %s is not a small number", ErrMalformedCallback, name)
	}
	return n, nil
}

// Signature computes X-Twilio-Signature for a form POST to rawURL. Repeated
// parameters contribute each value, values sorted, as Twilio's own
// libraries compute it.
func Signature(authToken, rawURL string, form url.Values) string {
	var b strings.Builder
	b.WriteString(rawURL)
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range form {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, v := range slices.Sorted(slices.Values(form[name])) {
			b.WriteString(name)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ValidSignature reports whether sig signs form posted to rawURL. Like
// Twilio's libraries it also accepts the URL with its scheme's default port
// written out or left out, since Twilio signs the URL as it was configured.
func ValidSignature(authToken, rawURL string, form url.Values, sig string) bool {
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	for _, u := range urlVariants(rawURL) {
		want, _ := base64.StdEncoding.DecodeString(Signature(authToken, u, form))
		if hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func urlVariants(rawURL string) []string {
	out := []string{rawURL}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return out
	}
	def := map[string]string{"https": "443", "http": "80"}[u.Scheme]
	if def == "" {
		return out
	}
	switch u.Port() {
	case "":
		u.Host += ":" + def
	case def:
		u.Host = u.Hostname()
		if strings.Contains(u.Host, ":") {
			u.Host = "[" + u.Host + "]" // IPv6 literal
		}
	default:
		return out
	}
	return append(out, u.String())
}

// PublicURL is the URL Twilio signed for a callback that arrived as r,
// given the public base URL from configuration ("https://id.example.com"):
// the base plus r's path and query. The request's Host header plays no part.
func PublicURL(base string, r *http.Request) string {
	return strings.TrimRight(base, "/") + r.URL.RequestURI()
}
