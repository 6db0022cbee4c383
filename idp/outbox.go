package idp

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
)

// Outbox is the Telephony of `latchkey dev`: nothing leaves the machine.
// Messages and calls are kept in memory, listed at /dev/outbox and logged,
// codes included, which is why serve mode refuses it unless told
// otherwise. Every number looks like a verified mobile and every message
// is delivered.
type Outbox struct {
	log *slog.Logger
	now func() time.Time

	mu   sync.Mutex
	msgs []OutboxMessage
}

// OutboxMessage is one message or call the outbox "sent".
type OutboxMessage struct {
	SID     string
	Time    time.Time
	Channel string // "sms" or "voice"
	To      string
	Text    string
}

// outboxKeep bounds the memory a long dev session uses.
const outboxKeep = 100

// NewOutbox returns an empty outbox that logs to log.
func NewOutbox(log *slog.Logger) *Outbox {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Outbox{log: log, now: time.Now}
}

func (o *Outbox) add(ctx context.Context, channel, to, text string) Sent {
	prefix := "SM"
	if channel == channelVoice {
		prefix = "CA"
	}
	m := OutboxMessage{SID: prefix + strings.ToLower(rand.Text()), Time: o.now(), Channel: channel, To: to, Text: text}
	o.mu.Lock()
	o.msgs = append(o.msgs, m)
	if len(o.msgs) > outboxKeep {
		o.msgs = slices.Delete(o.msgs, 0, len(o.msgs)-outboxKeep)
	}
	o.mu.Unlock()
	o.log.InfoContext(ctx, "dev outbox", "channel", channel, "to", to, "text", text)
	return Sent{SID: m.SID, Status: "delivered", Segments: 1}
}

// SendSMS keeps the message.
func (o *Outbox) SendSMS(ctx context.Context, m OutboundSMS) (Sent, error) {
	return o.add(ctx, channelSMS, m.To, m.Body), nil
}

// Call keeps the words the call would say.
func (o *Outbox) Call(ctx context.Context, c OutboundCall) (Sent, error) {
	return o.add(ctx, channelVoice, c.To, strings.Join(c.Script.Parts, " … ")), nil
}

// Lookup says every number is a valid mobile whose SIM never changed.
func (o *Outbox) Lookup(context.Context, string, bool) (LineInfo, error) {
	return LineInfo{Valid: true, LineType: "mobile", Carrier: "Latchkey dev outbox", SIMChecked: true}, nil
}

// ParseCallback refuses everything: the outbox reports delivery itself.
func (o *Outbox) ParseCallback(*http.Request, string) (DeliveryReport, error) {
	return DeliveryReport{}, errors.New("the dev outbox sends no callbacks")
}

// Messages returns what was sent, newest first.
func (o *Outbox) Messages() []OutboxMessage {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := slices.Clone(o.msgs)
	slices.Reverse(out)
	return out
}

// outboxPage is the data of templates/pages/outbox.html.
type outboxPage struct {
	web.Page
	Messages []OutboxMessage
}

// OutboxRoute serves the outbox's page at /dev/outbox; the binary mounts
// it in dev mode.
func (p *Provider) OutboxRoute(o *Outbox) Route {
	return Route{Pattern: "GET /dev/outbox", Handler: web.Chain(web.Handle(p.log, p.errPages, func(w http.ResponseWriter, r *http.Request) error {
		return p.renderer.Render(w, r, http.StatusOK, "outbox", outboxPage{
			Page: p.page(w, r, storage.LoginTx{}, "outbox.title"), Messages: o.Messages(),
		})
	}), web.NoStore)}
}
