package twilio

import (
	"encoding/xml"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/twilio/twiliotest"
)

func TestCallReadsScript(t *testing.T) {
	fake := twiliotest.New(t)
	c, _ := newClient(t, fake, nil)
	parts := []string{"Latchkey のコードは", "1 2 3 4 5 6", "もう一度", "1 2 3 4 5 6"}
	res, err := c.Call(t.Context(), Call{
		To:             testTo,
		Script:         Script{Language: "ja-JP", Voice: "Polly.Mizuki", Parts: parts},
		StatusCallback: "https://id.example.test/twilio/voice",
		TimeLimit:      time.Minute,
	})
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	if !callSIDRe.MatchString(res.SID) || res.Status != "queued" {
		t.Errorf("result = %+v, want a CA SID, queued", res)
	}
	calls := fake.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d calls recorded", len(calls))
	}
	call := calls[0]
	if call.To != testTo || call.From != testFrom || call.Host != "api.twilio.com" || call.URL != "" {
		t.Errorf("call = %+v", call)
	}
	if call.Timeout != 30 || call.TimeLimit != 60 || call.MachineDetection != "Enable" {
		t.Errorf("Timeout %d, TimeLimit %d, MachineDetection %q; want 30, 60, Enable", call.Timeout, call.TimeLimit, call.MachineDetection)
	}
	if call.StatusCallback != "https://id.example.test/twilio/voice" || call.StatusCallbackMethod != "POST" ||
		!slices.Equal(call.StatusCallbackEvent, []string{"completed"}) {
		t.Errorf("callback %q %q %v", call.StatusCallback, call.StatusCallbackMethod, call.StatusCallbackEvent)
	}
	var texts []string
	for _, s := range call.Says {
		if s.Language != "ja-JP" || s.Voice != "Polly.Mizuki" {
			t.Errorf("say = %+v, want ja-JP / Polly.Mizuki", s)
		}
		texts = append(texts, s.Text)
	}
	if !slices.Equal(texts, parts) || call.Pauses != len(parts)-1 {
		t.Errorf("says %q with %d pauses, want %q with %d", texts, call.Pauses, parts, len(parts)-1)
	}
}

// The script's text is the caller's, possibly from a translation file: it
// must never become TwiML verbs.
func TestTwiMLEscapesText(t *testing.T) {
	hostile := []string{`</Say><Dial>+19005550100</Dial><Say>`, `a < b && c > "d" 'e'`, "line\nbreak"}
	doc, err := Script{Language: "en-US", Parts: hostile}.TwiML()
	if err != nil {
		t.Fatalf("TwiML: %v", err)
	}
	if strings.Contains(doc, "<Dial>") || !strings.Contains(doc, "&lt;/Say&gt;&lt;Dial&gt;") || !strings.Contains(doc, "&amp;&amp;") {
		t.Fatalf("TwiML not escaped: %s", doc)
	}
	// Parse it back: exactly the verbs we wrote, with the text intact.
	dec := xml.NewDecoder(strings.NewReader(doc))
	var names, texts []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("TwiML does not parse: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			names = append(names, tok.Name.Local)
			if tok.Name.Local == "Pause" && (len(tok.Attr) != 1 || tok.Attr[0].Value != "1") {
				t.Errorf("pause attrs %v", tok.Attr)
			}
		case xml.CharData:
			texts = append(texts, string(tok))
		}
	}
	if want := []string{"Response", "Say", "Pause", "Say", "Pause", "Say"}; !slices.Equal(names, want) {
		t.Errorf("elements %v, want %v", names, want)
	}
	if !slices.Equal(texts, hostile) {
		t.Errorf("texts %q, want %q", texts, hostile)
	}
}

func TestTwiMLRefusals(t *testing.T) {
	long := strings.Repeat("1 2 3 4 5 6 ", 400)
	for name, s := range map[string]Script{
		"no language":       {Parts: []string{"x"}},
		"language injected": {Language: `en" voice="x`, Parts: []string{"x"}},
		"voice injected":    {Language: "en", Voice: `a"b`, Parts: []string{"x"}},
		"no parts":          {Language: "en"},
		"blank part":        {Language: "en", Parts: []string{"x", " "}},
		"bad UTF-8":         {Language: "en", Parts: []string{"\xff"}},
		"over 4000 chars":   {Language: "en", Parts: []string{long}},
	} {
		if doc, err := s.TwiML(); err == nil {
			t.Errorf("%s: TwiML() = %q, want an error", name, doc)
		}
	}
}

func TestCallArgumentChecks(t *testing.T) {
	fake := twiliotest.New(t)
	c, _ := newClient(t, fake, nil)
	script := Script{Language: "en-US", Parts: []string{"x"}}
	for _, call := range []Call{
		{To: testTo, Script: script, Timeout: 2 * time.Second},
		{To: testTo, Script: script, Timeout: time.Hour},
		{To: testTo, Script: script, TimeLimit: 5 * time.Hour},
		{To: testTo},
	} {
		if _, err := c.Call(t.Context(), call); err == nil {
			t.Errorf("Call(%+v) succeeded", call)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests reached Twilio", n)
	}
}
