package twilio

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// Voice call defaults, applied to zero fields of Call.
const (
	// DefaultRingTimeout is how long the phone rings before Twilio gives up
	// ("no-answer").
	DefaultRingTimeout = 30 * time.Second
	// DefaultTimeLimit ends the call whatever happens: a script read twice
	// takes well under a minute, and a voicemail box must not keep the line
	// (and the bill) open.
	DefaultTimeLimit = 90 * time.Second
	// DefaultVoice reads the many languages Twilio's <Say> supports;
	// Twilio's own default ("man") speaks only a handful.
	DefaultVoice = "alice"
)

// MachineDetection is sent with every call. "Enable" ends detection as soon
// as Twilio knows whether a person or a machine answered, so a person hears
// the code after a moment; "DetectMessageEnd" would wait for the voicemail
// greeting's beep, which is only useful for leaving a message, and a code
// left on a voicemail box is a code anyone with the box's PIN can read.
// Inline TwiML cannot branch on the result, so the script is still spoken to
// a machine; the status callback's AnsweredBy ("human", "machine_start",
// "fax", "unknown" ...) tells the caller where the code went.
const MachineDetection = "Enable"

// maxTwiML is Twilio's limit on the Twiml parameter.
const maxTwiML = 4000

var (
	languageRe = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
	voiceRe    = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
)

// Script is what a voice call says: each part in a <Say> in Language, with a
// one-second <Pause> between parts. The caller writes the text (a code
// spaced "1 2 3 4 5 6" so it is read digit by digit, and read twice); the
// TwiML is built here with XML escaping, so the text cannot inject verbs.
type Script struct {
	Language string   // BCP 47 tag Twilio knows, such as "en-US" or "ja-JP"
	Voice    string   // a Twilio voice ("Polly.Mizuki"); DefaultVoice when empty
	Parts    []string // non-empty texts, read in order
}

type sayVerb struct {
	XMLName  xml.Name `xml:"Say"`
	Voice    string   `xml:"voice,attr"`
	Language string   `xml:"language,attr"`
	Text     string   `xml:",chardata"`
}

type pauseVerb struct {
	XMLName xml.Name `xml:"Pause"`
	Length  int      `xml:"length,attr"`
}

// TwiML renders the script as a TwiML document:
//
//	<Response><Say voice="alice" language="en-US">…</Say><Pause length="1"></Pause>…</Response>
//
// (encoding/xml writes empty elements with an end tag; to an XML parser it
// is the same as <Pause length="1"/>).
func (s Script) TwiML() (string, error) {
	if !languageRe.MatchString(s.Language) {
		return "", fmt.Errorf("twilio: script: language %q is not a language tag", s.Language)
	}
	voice := s.Voice
	if voice == "" {
		voice = DefaultVoice
	}
	if !voiceRe.MatchString(voice) {
		return "", fmt.Errorf("twilio: script: voice %q is not a voice name", voice)
	}
	if len(s.Parts) == 0 {
		return "", errors.New("twilio: script: nothing to say")
	}
	var b strings.Builder
	enc := xml.NewEncoder(&b)
	response := xml.StartElement{Name: xml.Name{Local: "Response"}}
	if err := enc.EncodeToken(response); err != nil {
		return "", fmt.Errorf("twilio: script: %w", err)
	}
	for i, part := range s.Parts {
		if strings.TrimSpace(part) == "" || !utf8.ValidString(part) {
			return "", fmt.Errorf("twilio: script: part %d is empty or not UTF-8", i)
		}
		if i > 0 {
			if err := enc.Encode(pauseVerb{Length: 1}); err != nil {
				return "", fmt.Errorf("twilio: script: %w", err)
			}
		}
		if err := enc.Encode(sayVerb{Voice: voice, Language: s.Language, Text: part}); err != nil {
			return "", fmt.Errorf("twilio: script: %w", err)
		}
	}
	if err := enc.EncodeToken(response.End()); err != nil {
		return "", fmt.Errorf("twilio: script: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("twilio: script: %w", err)
	}
	if utf8.RuneCountInString(b.String()) > maxTwiML {
		return "", fmt.Errorf("twilio: script: TwiML is longer than Twilio's %d characters", maxTwiML)
	}
	return b.String(), nil
}

// Call is one voice call that reads a script.
type Call struct {
	To     string // E.164
	Script Script
	// StatusCallback is the public URL Twilio posts the call's final status
	// to, with AnsweredBy; none when empty.
	StatusCallback string
	// Timeout is how long the phone rings (5 s to 10 min); DefaultRingTimeout
	// when zero.
	Timeout time.Duration
	// TimeLimit ends the call after this long (up to 4 h);
	// DefaultTimeLimit when zero.
	TimeLimit time.Duration
}

// Call places a call through the Calls API with the script as inline TwiML
// and machine detection on (see MachineDetection). Retries as SendSMS does.
func (c *Client) Call(ctx context.Context, call Call) (Result, error) {
	if c.cfg.VoiceFrom == "" {
		return Result{}, fmt.Errorf("twilio: call: %w: no voice from number", ErrConfig)
	}
	if !e164Re.MatchString(call.To) {
		return Result{}, fmt.Errorf("twilio: call: %w", localInvalidNumber())
	}
	twiml, err := call.Script.TwiML()
	if err != nil {
		return Result{}, fmt.Errorf("twilio: call: %w", err)
	}
	ring := call.Timeout
	if ring == 0 {
		ring = DefaultRingTimeout
	}
	if ring < 5*time.Second || ring > 10*time.Minute {
		return Result{}, fmt.Errorf("twilio: call: ring timeout %s is outside 5s..10m", ring)
	}
	limit := call.TimeLimit
	if limit == 0 {
		limit = DefaultTimeLimit
	}
	if limit < time.Second || limit > 4*time.Hour {
		return Result{}, fmt.Errorf("twilio: call: time limit %s is outside 1s..4h", limit)
	}
	p := (&api.CreateCallParams{}).
		SetTo(call.To).
		SetFrom(c.cfg.VoiceFrom).
		SetTwiml(twiml).
		SetTimeout(ceilSeconds(ring)).
		SetTimeLimit(ceilSeconds(limit)).
		SetMachineDetection(MachineDetection)
	if call.StatusCallback != "" {
		// Only the final status matters; "completed" is Twilio's default
		// event, named so that the request says what it waits for.
		p.SetStatusCallback(call.StatusCallback).
			SetStatusCallbackMethod("POST").
			SetStatusCallbackEvent([]string{"completed"})
	}
	var created *api.ApiV2010Call
	err = c.do(ctx, "call", func(s services) (err error) {
		created, err = s.api.CreateCall(p)
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("twilio: call: %w", err)
	}
	return Result{
		SID:       deref(created.Sid),
		Status:    deref(created.Status),
		Price:     deref(created.Price),
		PriceUnit: deref(created.PriceUnit),
	}, nil
}
