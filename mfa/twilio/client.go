package twilio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"time"

	twclient "github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
	lookups "github.com/twilio/twilio-go/rest/lookups/v2"

	"github.com/latchkey/latchkey/mfa/internal/retry"
)

// Back-off between retries: base·2^attempt, capped, of which a random half
// is jitter (so that many nodes rate-limited at once do not retry in step).
const (
	backoffBase = 500 * time.Millisecond
	backoffCap  = 8 * time.Second
)

// Client sends SMS and voice calls and looks numbers up through Twilio. It is
// safe for concurrent use.
type Client struct {
	cfg       Config
	transport http.RoundTripper
	timeout   time.Duration
	retry     retry.Policy // a field so that tests can widen the back-off
	log       *slog.Logger
}

// New validates cfg (see Config) and returns a Client.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("twilio: new client: %w", err)
	}
	c := &Client{
		cfg:       cfg,
		transport: cfg.Transport,
		timeout:   cfg.Timeout,
		retry: retry.Policy{
			MaxRetries: cfg.MaxRetries,
			Base:       backoffBase,
			Cap:        backoffCap,
			Temporary:  retryable,
			Sleep:      cfg.Sleep,
		},
		log: cfg.Logger,
	}
	if c.transport == nil {
		c.transport = http.DefaultTransport
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.retry.MaxRetries == 0 {
		c.retry.MaxRetries = DefaultMaxRetries // negative: none
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c, nil
}

// Result is what Twilio answered about a message or call. At creation Price
// is usually empty (Twilio prices a message once the carrier reports) and
// Status is "queued" or "accepted"; status callbacks and FetchMessage fill in
// the rest.
type Result struct {
	SID       string // "SM…" / "MM…" for messages, "CA…" for calls
	Status    string
	Segments  int    // SMS segments billed; 0 for calls
	Price     string // decimal, negative for a charge ("-0.00790"); "" until known
	PriceUnit string // ISO 4217 ("USD")
	ErrorCode int    // delivery error (see IsUndeliverable); 0 when none
}

// SMS is one text message to send.
type SMS struct {
	To   string // E.164
	Body string
	// StatusCallback is the public URL Twilio posts delivery reports to
	// (see ParseCallback); none when empty.
	StatusCallback string
	// ValidityPeriod drops the message if it is still queued at Twilio after
	// this long (a stale code is useless); rounded up to whole seconds,
	// 1 s to 10 h; Twilio's default (10 h) when zero.
	ValidityPeriod time.Duration
}

const maxValidity = 36000 * time.Second

// SendSMS creates a message through the Messages API. The same request is
// re-sent on 20429 and 5xx answers; other Twilio errors come back as *Error.
func (c *Client) SendSMS(ctx context.Context, m SMS) (Result, error) {
	if !c.cfg.smsConfigured() {
		return Result{}, fmt.Errorf("twilio: send sms: %w: no messaging service SID or SMS from number", ErrConfig)
	}
	if !e164Re.MatchString(m.To) {
		return Result{}, fmt.Errorf("twilio: send sms: %w", localInvalidNumber())
	}
	if m.Body == "" {
		return Result{}, errors.New("twilio: send sms: empty body")
	}
	if m.ValidityPeriod < 0 || m.ValidityPeriod > maxValidity {
		return Result{}, fmt.Errorf("twilio: send sms: validity period %s is outside 1s..10h", m.ValidityPeriod)
	}
	p := (&api.CreateMessageParams{}).SetTo(m.To).SetBody(m.Body)
	if c.cfg.MessagingServiceSID != "" {
		p.SetMessagingServiceSid(c.cfg.MessagingServiceSID)
	}
	if c.cfg.SMSFrom != "" {
		p.SetFrom(c.cfg.SMSFrom)
	}
	if m.StatusCallback != "" {
		p.SetStatusCallback(m.StatusCallback)
	}
	if m.ValidityPeriod > 0 {
		p.SetValidityPeriod(ceilSeconds(m.ValidityPeriod))
	}
	var msg *api.ApiV2010Message
	err := c.do(ctx, "send sms", func(s services) (err error) {
		msg, err = s.api.CreateMessage(p)
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("twilio: send sms: %w", err)
	}
	return messageResult(msg), nil
}

var messageSIDRe = regexp.MustCompile(`^(SM|MM)[0-9a-fA-F]{32}$`)

// FetchMessage reads a message back, for its final status, error code and
// price (a status callback carries no price).
func (c *Client) FetchMessage(ctx context.Context, sid string) (Result, error) {
	// twilio-go pastes the SID into the URL path unescaped.
	if !messageSIDRe.MatchString(sid) {
		return Result{}, errors.New("twilio: fetch message: malformed message SID")
	}
	var msg *api.ApiV2010Message
	err := c.do(ctx, "fetch message", func(s services) (err error) {
		msg, err = s.api.FetchMessage(sid, nil)
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("twilio: fetch message: %w", err)
	}
	return messageResult(msg), nil
}

func messageResult(m *api.ApiV2010Message) Result {
	r := Result{
		SID:       deref(m.Sid),
		Status:    deref(m.Status),
		Price:     deref(m.Price),
		PriceUnit: deref(m.PriceUnit),
		Segments:  atoi(deref(m.NumSegments)),
	}
	if m.ErrorCode != nil {
		r.ErrorCode = *m.ErrorCode
	}
	return r
}

func localInvalidNumber() *Error {
	return &Error{Code: CodeInvalidNumber, Message: "'To' is not an E.164 phone number"}
}

// services are the twilio-go API services bound to one attempt of one call.
type services struct {
	api     *api.ApiService
	lookups *lookups.ApiService
}

// do runs send, retrying on 20429 and 5xx with exponential back-off and
// jitter, at most Config.MaxRetries times, never sleeping past ctx's deadline.
func (c *Client) do(ctx context.Context, op string, send func(services) error) error {
	return c.retry.Do(ctx, func(ctx context.Context) error {
		ex := &exchange{}
		if err := send(c.services(ctx, ex)); err != nil {
			return ex.translate(ctx, err)
		}
		return nil
	}, func(n int, err error, delay time.Duration) {
		c.log.WarnContext(ctx, "twilio: retrying", "op", op, "attempt", n,
			"code", ErrorCode(err), "http_status", httpStatus(err), "delay", delay)
	})
}

// services builds twilio-go's client for one attempt: a fresh http.Client
// whose transport carries ctx (twilio-go's own requests use
// context.Background) and records the HTTP answer. RequestHandler is built
// directly because NewRequestHandler reads TWILIO_EDGE and TWILIO_REGION.
func (c *Client) services(ctx context.Context, ex *exchange) services {
	tc := &twclient.Client{
		Credentials: twclient.NewCredentials(c.cfg.AccountSID, c.cfg.AuthToken),
		HTTPClient: &http.Client{
			Transport: &boundTransport{ctx: ctx, next: c.transport, ex: ex},
			Timeout:   c.timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
	tc.SetAccountSid(c.cfg.AccountSID)
	h := &twclient.RequestHandler{Client: tc}
	return services{api: api.NewApiService(h), lookups: lookups.NewApiService(h)}
}

// exchange is what boundTransport saw of the last HTTP answer of an attempt.
type exchange struct {
	status      int
	contentType string
}

// translate turns twilio-go's errors into *Error. twilio-go decodes JSON
// error bodies into *TwilioRestError; for any other body (an HTML 502 from a
// proxy) it returns a decoding error that names no status, so the status
// comes from what the transport saw.
func (ex *exchange) translate(ctx context.Context, err error) error {
	if e, ok := errors.AsType[*twclient.TwilioRestError](err); ok {
		status := e.Status
		if status == 0 {
			status = ex.status
		}
		return &Error{Code: e.Code, HTTPStatus: status, Message: e.Message, MoreInfo: e.MoreInfo}
	}
	if e, ok := errors.AsType[*twclient.RestErrorV1](err); ok {
		return &Error{Code: e.Code, HTTPStatus: e.HttpStatusCode, Message: e.Message}
	}
	if ex.status >= 400 {
		mt, _, _ := mime.ParseMediaType(ex.contentType)
		if mt == "" {
			mt = "no content type"
		}
		return &Error{HTTPStatus: ex.status, Message: http.StatusText(ex.status) + " (a " + mt + " body, not Twilio's JSON)"}
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%w: %w", ctxErr, err)
	}
	return err
}

// boundTransport sends one twilio-go request under the caller's context
// (joined with the request's own, which carries http.Client.Timeout) and
// records the answer's status.
type boundTransport struct {
	ctx  context.Context
	next http.RoundTripper
	ex   *exchange
}

// maxErrorBody bounds what is read of an error answer.
const maxErrorBody = 64 << 10

func (t *boundTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// The request's deadline (http.Client.Timeout) is copied so that a
	// timeout still reads as one (context.DeadlineExceeded); any other end
	// of the request's context cancels too.
	parent, cancelDeadline := t.ctx, context.CancelFunc(func() {})
	if d, ok := req.Context().Deadline(); ok {
		parent, cancelDeadline = context.WithDeadline(parent, d)
	}
	ctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(req.Context(), func() {
		// A deadline is left to the copy, which ends the same instant
		// with the right error.
		if !errors.Is(req.Context().Err(), context.DeadlineExceeded) {
			cancel()
		}
	})
	done := func() { stop(); cancel(); cancelDeadline() }
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		done()
		return nil, err
	}
	t.ex.status = resp.StatusCode
	t.ex.contentType = resp.Header.Get("Content-Type")
	if resp.StatusCode >= 400 {
		// Read the (small) error body now so that an endless one cannot
		// hold the attempt open; twilio-go decodes it afterwards.
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		done()
		if rerr != nil {
			return nil, rerr
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	}
	resp.Body = &closeFunc{ReadCloser: resp.Body, done: done}
	return resp, nil
}

// closeFunc releases the attempt's context once the body is closed.
type closeFunc struct {
	io.ReadCloser
	done func()
}

func (b *closeFunc) Close() error {
	err := b.ReadCloser.Close()
	b.done()
	return err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' || n > 1<<20 {
			return 0
		}
		n = n*10 + int(r-'0')
	}
	return n
}

func ceilSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}
