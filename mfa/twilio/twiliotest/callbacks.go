package twiliotest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Delivery is one status callback the fake posted.
type Delivery struct {
	SID    string
	URL    string
	Form   url.Values
	Forged bool
	Status int   // the callback receiver's HTTP status; 0 when Err is set
	Err    error // the post failed
}

// Deliveries returns the callbacks posted so far.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, len(s.deliveries))
	for i, d := range s.deliveries {
		d.Form = cloneValues(d.Form)
		out[i] = d
	}
	return out
}

// Wait blocks until the automatic callbacks in flight have been posted.
func (s *Server) Wait() { s.pending.Wait() }

// Deliver moves a message or call to status (with a delivery error code,
// such as 30003, or 0) and posts the signed status callback to its
// StatusCallback, returning the receiver's HTTP status. For a call, an
// empty status means the number's CallStatus.
func (s *Server) Deliver(sid, status string, errorCode int) (int, error) {
	return s.deliver(sid, status, errorCode, false)
}

// DeliverForged posts the same callback as Deliver but signed with another
// auth token, as an attacker who knows the callback URL would; the message
// or call is left unchanged. The receiver must refuse it (403).
func (s *Server) DeliverForged(sid, status string, errorCode int) (int, error) {
	return s.deliver(sid, status, errorCode, true)
}

// autoDeliver posts the number's final outcome after a create, when
// AutoCallbacks is on and the request named a StatusCallback.
func (s *Server) autoDeliver(sid, callback string) {
	s.mu.Lock()
	on := s.autoCallbacks
	s.mu.Unlock()
	if !on || callback == "" {
		return
	}
	s.pending.Add(1)
	go func() {
		defer s.pending.Done()
		_, _ = s.deliver(sid, "", 0, false)
	}()
}

func (s *Server) deliver(sid, status string, errorCode int, forged bool) (int, error) {
	target, form, err := s.callbackForm(sid, status, errorCode, !forged)
	if err != nil {
		return 0, err
	}
	token := s.AuthToken
	if forged {
		token = randomHex(16)
	}
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, fmt.Errorf("twiliotest: deliver %s: %w", sid, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("X-Twilio-Signature", Signature(token, target, form))
	s.mu.Lock()
	client := s.callbackClient
	s.mu.Unlock()
	d := Delivery{SID: sid, URL: target, Form: form, Forged: forged}
	resp, err := client.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d.Status = resp.StatusCode
	} else {
		d.Err = err
	}
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("twiliotest: deliver %s: %w", sid, err)
	}
	return d.Status, nil
}

// callbackForm builds Twilio's status callback parameters for sid and, when
// update is set, records the new status on the message or call.
func (s *Server) callbackForm(sid, status string, errorCode int, update bool) (string, url.Values, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	form := url.Values{"AccountSid": {s.AccountSID}, "ApiVersion": {"2010-04-01"}}
	for _, m := range s.messages {
		if m.SID != sid {
			continue
		}
		if m.StatusCallback == "" {
			return "", nil, fmt.Errorf("twiliotest: deliver %s: the message has no StatusCallback", sid)
		}
		if status == "" {
			n := s.numbers[m.To]
			status, errorCode = "delivered", 0
			if n != nil && n.SMSStatus != "" {
				status, errorCode = n.SMSStatus, n.SMSErrorCode
			}
		}
		if update {
			m.Status, m.ErrorCode = status, errorCode
			// Twilio prices a message once the carrier answers.
			m.Price = fmt.Sprintf("-%.5f", 0.0079*float64(m.Segments))
		}
		form.Set("MessageSid", m.SID)
		form.Set("SmsSid", m.SID)
		form.Set("MessageStatus", status)
		form.Set("SmsStatus", status)
		form.Set("To", m.To)
		if m.From != "" {
			form.Set("From", m.From)
		}
		if m.MessagingServiceSID != "" {
			form.Set("MessagingServiceSid", m.MessagingServiceSID)
		}
		if errorCode != 0 {
			form.Set("ErrorCode", strconv.Itoa(errorCode))
		}
		return m.StatusCallback, form, nil
	}
	for _, c := range s.calls {
		if c.SID != sid {
			continue
		}
		if c.StatusCallback == "" {
			return "", nil, fmt.Errorf("twiliotest: deliver %s: the call has no StatusCallback", sid)
		}
		n := s.numbers[c.To]
		if status == "" {
			status = "completed"
			if n != nil && n.CallStatus != "" {
				status = n.CallStatus
			}
		}
		answeredBy := ""
		if c.MachineDetection != "" && status == "completed" {
			answeredBy = "human"
			if n != nil && n.AnsweredBy != "" {
				answeredBy = n.AnsweredBy
			}
		}
		if update {
			c.Status, c.AnsweredBy = status, answeredBy
		}
		form.Set("CallSid", c.SID)
		form.Set("CallStatus", status)
		form.Set("To", c.To)
		form.Set("From", c.From)
		form.Set("Direction", "outbound-api")
		form.Set("CallbackSource", "call-progress-events")
		form.Set("SequenceNumber", "0")
		form.Set("Timestamp", time.Now().UTC().Format(time.RFC1123Z))
		if answeredBy != "" {
			form.Set("AnsweredBy", answeredBy)
		}
		if status == "completed" {
			form.Set("CallDuration", "21")
		}
		if errorCode != 0 {
			form.Set("ErrorCode", strconv.Itoa(errorCode))
		}
		return c.StatusCallback, form, nil
	}
	return "", nil, fmt.Errorf("twiliotest: deliver %s: no such message or call", sid)
}

// Signature is X-Twilio-Signature for a form POST to rawURL: base64 of
// HMAC-SHA1 keyed with the auth token over the URL followed by each
// parameter's name and value, names sorted (and values, when a name
// repeats). Written here independently of mfa/twilio so that a mistake
// there does not cancel out.
func Signature(authToken, rawURL string, form url.Values) string {
	names := make([]string, 0, len(form))
	for name := range form {
		names = append(names, name)
	}
	sort.Strings(names)
	data := []byte(rawURL)
	for _, name := range names {
		values := append([]string(nil), form[name]...)
		sort.Strings(values)
		for _, v := range values {
			data = append(data, name...)
			data = append(data, v...)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write(data)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
