package twiliotest

import (
	"encoding/xml"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Number is how the fake treats one phone number. The zero value is a valid
// mobile that receives SMS and answers calls.
type Number struct {
	// Error answers every message or call to the number with this Twilio
	// code and HTTP 400: 21211 invalid number, 21610 unsubscribed (STOP),
	// 21614 not a mobile, 21612 unroutable ...
	Error int
	// ServerErrors answers the next N requests about the number (creates
	// and lookups) with HTTP 500 and an HTML body, then RateLimited answers
	// the next N with 429 and code 20429; then requests succeed.
	ServerErrors int
	RateLimited  int

	// SMSStatus is the final status callbacks report for messages:
	// "delivered" when empty, "undelivered" or "failed"; SMSErrorCode goes
	// with it (30003 unreachable, 30005 unknown number, 30006 landline,
	// 30008 unknown error ...).
	SMSStatus    string
	SMSErrorCode int
	// CallStatus is the final status for calls: "completed" when empty,
	// "busy", "no-answer", "failed"; AnsweredBy ("human" when empty,
	// "machine_start", "fax" ...) is reported when machine detection was
	// requested.
	CallStatus string
	AnsweredBy string

	// Lookup v2 answers. LineType is "mobile" when empty; Carrier "Fake
	// Mobile"; CountryCode is guessed from the calling code when empty.
	Invalid     bool // valid:false with validation_errors [INVALID_BUT_POSSIBLE]
	LineType    string
	Carrier     string
	CountryCode string
	// SIMSwapDate is the last SIM swap (zero: the carrier gives none);
	// SwappedPeriod is the period asked about ("PT24H" when empty) and
	// SwappedInPeriod whether a swap happened in it (computed from
	// SIMSwapDate when that is set).
	SIMSwapDate     time.Time
	SwappedPeriod   string
	SwappedInPeriod bool
}

// Message is a message the fake accepted.
type Message struct {
	SID                 string
	To                  string
	From                string
	MessagingServiceSID string
	Body                string
	StatusCallback      string
	ValidityPeriod      int // seconds; 0 when not sent
	Host                string
	Created             time.Time

	Status    string // queued/accepted, then what Deliver reported
	ErrorCode int
	Segments  int
	Price     string // "" until delivered
}

// Call is a call the fake accepted.
type Call struct {
	SID                  string
	To                   string
	From                 string
	Twiml                string
	URL                  string
	Says                 []Say // Twiml's <Say> verbs, in order
	Pauses               int   // Twiml's <Pause> verbs
	StatusCallback       string
	StatusCallbackMethod string
	StatusCallbackEvent  []string
	Timeout              int // ring timeout, seconds; 0 when not sent
	TimeLimit            int // seconds; 0 when not sent
	MachineDetection     string
	Host                 string
	Created              time.Time

	Status     string
	AnsweredBy string
}

// Say is one <Say> verb of a call's TwiML.
type Say struct {
	Voice    string
	Language string
	Text     string
}

// Messages returns the messages accepted so far (copies).
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		out[i] = *m
	}
	return out
}

// Calls returns the calls accepted so far (copies).
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		out[i] = *c
		out[i].Says = append([]Say(nil), c.Says...)
		out[i].StatusCallbackEvent = append([]string(nil), c.StatusCallbackEvent...)
	}
	return out
}

// LastMessage returns the latest message accepted for the number, such as
// the one carrying the code a flow test must type.
func (s *Server) LastMessage(to string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.messages) - 1; i >= 0; i-- {
		if s.messages[i].To == to {
			return *s.messages[i], true
		}
	}
	return Message{}, false
}

// LastCall returns the latest call accepted for the number.
func (s *Server) LastCall(to string) (Call, bool) {
	for _, c := range slices.Backward(s.Calls()) {
		if c.To == to {
			return c, true
		}
	}
	return Call{}, false
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) int {
	f := r.PostForm
	to, from, service, body := f.Get("To"), f.Get("From"), f.Get("MessagingServiceSid"), f.Get("Body")
	switch {
	case to == "":
		return s.twilioError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
	case !e164Re.MatchString(to):
		return s.twilioError(w, http.StatusBadRequest, 21211, "Invalid 'To' Phone Number: "+to)
	case from == "" && service == "":
		return s.twilioError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
	case body == "" && f.Get("MediaUrl") == "" && f.Get("ContentSid") == "":
		return s.twilioError(w, http.StatusBadRequest, 21602, "Message body is required.")
	}
	if status, done := s.injected(w, to); done {
		return status
	}
	if n := s.number(to); n.Error != 0 {
		return s.twilioError(w, http.StatusBadRequest, n.Error, errorMessage(n.Error, to))
	}
	validity, _ := strconv.Atoi(f.Get("ValidityPeriod"))
	m := &Message{
		SID: "SM" + randomHex(16), To: to, From: from, MessagingServiceSID: service, Body: body,
		StatusCallback: f.Get("StatusCallback"), ValidityPeriod: validity, Host: r.Host,
		Created: time.Now(), Status: "queued", Segments: segments(body),
	}
	if service != "" {
		m.Status = "accepted" // Twilio's answer when a service picks the sender
	}
	s.mu.Lock()
	s.messages = append(s.messages, m)
	answer := s.messageJSON(m)
	s.mu.Unlock()
	s.autoDeliver(m.SID, m.StatusCallback)
	return s.writeJSON(w, http.StatusCreated, answer)
}

func (s *Server) fetchMessage(w http.ResponseWriter, r *http.Request) int {
	sid, ok := strings.CutSuffix(r.PathValue("file"), ".json")
	s.mu.Lock()
	var answer map[string]any
	for _, m := range s.messages {
		if ok && m.SID == sid {
			answer = s.messageJSON(m)
		}
	}
	s.mu.Unlock()
	if answer == nil {
		return s.twilioError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
	}
	return s.writeJSON(w, http.StatusOK, answer)
}

// messageJSON is Twilio's Message resource; s.mu is held.
func (s *Server) messageJSON(m *Message) map[string]any {
	uri := "/2010-04-01/Accounts/" + s.AccountSID + "/Messages/" + m.SID + ".json"
	j := map[string]any{
		"account_sid": s.AccountSID, "api_version": "2010-04-01", "body": m.Body,
		"date_created": rfc2822(m.Created), "date_updated": rfc2822(m.Created), "date_sent": nil,
		"direction": "outbound-api", "error_code": nil, "error_message": nil,
		"from": nullable(m.From), "messaging_service_sid": nullable(m.MessagingServiceSID),
		"num_media": "0", "num_segments": strconv.Itoa(m.Segments),
		"price": nullable(m.Price), "price_unit": "USD",
		"sid": m.SID, "status": m.Status, "to": m.To, "uri": uri,
		"subresource_uris": map[string]any{"media": strings.TrimSuffix(uri, ".json") + "/Media.json"},
	}
	if m.ErrorCode != 0 {
		j["error_code"] = m.ErrorCode
	}
	if m.Price != "" {
		j["date_sent"] = rfc2822(m.Created)
	}
	return j
}

func (s *Server) createCall(w http.ResponseWriter, r *http.Request) int {
	f := r.PostForm
	to, from, twiml, u := f.Get("To"), f.Get("From"), f.Get("Twiml"), f.Get("Url")
	switch {
	case to == "":
		return s.twilioError(w, http.StatusBadRequest, 21201, "No 'To' number is specified")
	case from == "":
		return s.twilioError(w, http.StatusBadRequest, 21213, "No 'From' number is specified")
	case !e164Re.MatchString(to):
		return s.twilioError(w, http.StatusBadRequest, 21211, "Invalid 'To' Phone Number: "+to)
	case twiml == "" && u == "" && f.Get("ApplicationSid") == "":
		return s.twilioError(w, http.StatusBadRequest, 21205, "Url parameter is required. Please provide a Url, Twiml or ApplicationSid.")
	}
	says, pauses, err := parseTwiML(twiml)
	if err != nil {
		return s.twilioError(w, http.StatusBadRequest, 12100, "Document parse failure: "+err.Error())
	}
	if status, done := s.injected(w, to); done {
		return status
	}
	if n := s.number(to); n.Error != 0 {
		return s.twilioError(w, http.StatusBadRequest, n.Error, errorMessage(n.Error, to))
	}
	timeout, _ := strconv.Atoi(f.Get("Timeout"))
	limit, _ := strconv.Atoi(f.Get("TimeLimit"))
	c := &Call{
		SID: "CA" + randomHex(16), To: to, From: from, Twiml: twiml, URL: u, Says: says, Pauses: pauses,
		StatusCallback: f.Get("StatusCallback"), StatusCallbackMethod: f.Get("StatusCallbackMethod"),
		StatusCallbackEvent: f["StatusCallbackEvent"], Timeout: timeout, TimeLimit: limit,
		MachineDetection: f.Get("MachineDetection"), Host: r.Host, Created: time.Now(), Status: "queued",
	}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	answer := s.callJSON(c) // before an automatic callback can change c
	s.mu.Unlock()
	s.autoDeliver(c.SID, c.StatusCallback)
	return s.writeJSON(w, http.StatusCreated, answer)
}

// callJSON is Twilio's Call resource as created; s.mu is held.
func (s *Server) callJSON(c *Call) map[string]any {
	uri := "/2010-04-01/Accounts/" + s.AccountSID + "/Calls/" + c.SID + ".json"
	return map[string]any{
		"sid": c.SID, "account_sid": s.AccountSID, "api_version": "2010-04-01",
		"date_created": rfc2822(c.Created), "date_updated": rfc2822(c.Created),
		"to": c.To, "to_formatted": c.To, "from": c.From, "from_formatted": c.From,
		"status": c.Status, "direction": "outbound-api", "answered_by": nil,
		"start_time": nil, "end_time": nil, "duration": nil, "price": nil, "price_unit": "USD",
		"parent_call_sid": nil, "phone_number_sid": nil, "forwarded_from": nil, "group_sid": nil,
		"caller_name": nil, "queue_time": "0", "trunk_sid": nil, "uri": uri,
		"subresource_uris": map[string]any{"recordings": strings.TrimSuffix(uri, ".json") + "/Recordings.json"},
	}
}

// parseTwiML checks that inline TwiML is a well-formed <Response> and
// collects its <Say> and <Pause> verbs.
func parseTwiML(doc string) ([]Say, int, error) {
	if doc == "" {
		return nil, 0, nil
	}
	var resp struct {
		XMLName xml.Name `xml:"Response"`
		Verbs   []struct {
			XMLName  xml.Name
			Voice    string `xml:"voice,attr"`
			Language string `xml:"language,attr"`
			Text     string `xml:",chardata"`
		} `xml:",any"`
	}
	dec := xml.NewDecoder(strings.NewReader(doc))
	if err := dec.Decode(&resp); err != nil {
		return nil, 0, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, 0, xml.UnmarshalError("content after </Response>")
	}
	var says []Say
	pauses := 0
	for _, v := range resp.Verbs {
		switch v.XMLName.Local {
		case "Say":
			says = append(says, Say{Voice: v.Voice, Language: v.Language, Text: v.Text})
		case "Pause":
			pauses++
		}
	}
	return says, pauses, nil
}

// errorMessage is Twilio's message for the codes tests script.
func errorMessage(code int, to string) string {
	switch code {
	case 21211:
		return "Invalid 'To' Phone Number: " + to
	case 21610:
		return "Attempt to send to unsubscribed recipient"
	case 21612:
		return "The 'To' phone number is not currently reachable via SMS"
	case 21614:
		return "'To' number is not a valid mobile number"
	case 20003:
		return "Authenticate"
	}
	return "Error " + strconv.Itoa(code)
}

// segments counts SMS segments: GSM-7 text fits 160 characters in one
// segment and 153 per segment when split; anything else is UCS-2, 70 and 67.
func segments(body string) int {
	n, gsm := 0, true
	for _, r := range body {
		switch {
		case strings.ContainsRune(gsmBasic, r):
			n++
		case strings.ContainsRune(gsmExtended, r):
			n += 2
		default:
			gsm = false
		}
	}
	single, multi := 160, 153
	if !gsm {
		n, single, multi = utf16Units(body), 70, 67
	}
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

func utf16Units(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else if r != utf8.RuneError {
			n++
		}
	}
	return n
}

const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtended = "^{}\\[~]|€\f"
)

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
