package twiliotest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

type answer struct {
	status int
	body   map[string]any
}

func post(t *testing.T, s *Server, user, pass, path string, form url.Values) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "https://api.twilio.com"+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(user, pass)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode}
	_ = json.NewDecoder(resp.Body).Decode(&a.body)
	return a
}

func (a answer) code() int {
	n, _ := a.body["code"].(float64)
	return int(n)
}

func TestAuthAndAccount(t *testing.T) {
	s := New(t)
	path := "/2010-04-01/Accounts/" + s.AccountSID + "/Messages.json"
	form := url.Values{"To": {"+14155550100"}, "From": {"+15005550006"}, "Body": {"hi"}}
	if a := post(t, s, s.AccountSID, "wrong", path, form); a.status != 401 || a.code() != 20003 || a.body["message"] != "Authenticate" {
		t.Errorf("wrong token: %+v, want 401 / 20003", a)
	}
	other := "/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json"
	if a := post(t, s, s.AccountSID, s.AuthToken, other, form); a.status != 404 || a.code() != 20404 {
		t.Errorf("other account in path: %+v, want 404 / 20404", a)
	}
	a := post(t, s, s.AccountSID, s.AuthToken, path, form)
	if a.status != 201 || a.body["status"] != "queued" || a.body["price"] != nil {
		t.Errorf("good request: %+v", a)
	}
	if n := len(s.Requests()); n != 3 {
		t.Errorf("%d requests recorded, want 3", n)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("%d messages recorded, want 1", n)
	}
	if m, ok := s.LastMessage("+14155550100"); !ok || m.Body != "hi" || m.SID != a.body["sid"] {
		t.Errorf("LastMessage = %+v, %v", m, ok)
	}
	if _, ok := s.LastCall("+14155550100"); ok {
		t.Error("LastCall found a call that was never made")
	}
}

func TestRequiredFields(t *testing.T) {
	s := New(t)
	msgs := "/2010-04-01/Accounts/" + s.AccountSID + "/Messages.json"
	calls := "/2010-04-01/Accounts/" + s.AccountSID + "/Calls.json"
	twiml := "<Response><Say>hi</Say></Response>"
	for _, tc := range []struct {
		path string
		form url.Values
		code int
	}{
		{msgs, url.Values{"From": {"+15005550006"}, "Body": {"hi"}}, 21604},
		{msgs, url.Values{"To": {"4155550100"}, "From": {"+15005550006"}, "Body": {"hi"}}, 21211},
		{msgs, url.Values{"To": {"+14155550100"}, "Body": {"hi"}}, 21603},
		{msgs, url.Values{"To": {"+14155550100"}, "From": {"+15005550006"}}, 21602},
		{calls, url.Values{"From": {"+15005550006"}, "Twiml": {twiml}}, 21201},
		{calls, url.Values{"To": {"+14155550100"}, "Twiml": {twiml}}, 21213},
		{calls, url.Values{"To": {"+14155550100"}, "From": {"+15005550006"}}, 21205},
		{calls, url.Values{"To": {"+14155550100"}, "From": {"+15005550006"}, "Twiml": {"<Response><Say>"}}, 12100},
	} {
		if a := post(t, s, s.AccountSID, s.AuthToken, tc.path, tc.form); a.status != 400 || a.code() != tc.code {
			t.Errorf("%s %v: %+v, want 400 / %d", tc.path, tc.form, a, tc.code)
		}
	}
	if len(s.Messages())+len(s.Calls()) != 0 {
		t.Error("a refused request was recorded as sent")
	}
}

func TestRewriterRefusesOtherHosts(t *testing.T) {
	s := New(t)
	for _, u := range []string{"https://example.com/", "https://twilio.com.evil.example/", "https://eviltwilio.com/"} {
		resp, err := s.Client().Get(u)
		if err == nil {
			resp.Body.Close()
			t.Errorf("GET %s reached %s", u, resp.Request.URL)
		}
	}
}

func TestSegments(t *testing.T) {
	for body, want := range map[string]int{
		"":                           1,
		strings.Repeat("a", 160):     1,
		strings.Repeat("a", 161):     2,
		strings.Repeat("€", 80):      1, // 160 septets
		strings.Repeat("€", 81):      2,
		strings.Repeat("あ", 70):      1,
		strings.Repeat("あ", 71):      2,
		strings.Repeat("😀", 35):      1, // surrogate pairs: 70 UCS-2 units
		strings.Repeat("😀", 36):      2,
		strings.Repeat("a", 153*3+1): 4,
	} {
		if got := segments(body); got != want {
			t.Errorf("segments(%d runes of %q) = %d, want %d", len([]rune(body)), []rune(body + " ")[0], got, want)
		}
	}
}

// Run with -race: the fake is shared by concurrent requests.
func TestConcurrentUse(t *testing.T) {
	s := New(t)
	s.SetNumber("+14155550100", Number{RateLimited: 5})
	path := "/2010-04-01/Accounts/" + s.AccountSID + "/Messages.json"
	var wg sync.WaitGroup
	var mu sync.Mutex
	limited := 0
	for i := range 20 {
		wg.Go(func() {
			a := post(t, s, s.AccountSID, s.AuthToken, path, url.Values{
				"To": {"+14155550100"}, "From": {"+15005550006"}, "Body": {fmt.Sprint(i)},
			})
			if a.status == 429 {
				mu.Lock()
				limited++
				mu.Unlock()
			}
			_ = s.Messages()
		})
	}
	wg.Wait()
	if limited != 5 || len(s.Messages()) != 15 {
		t.Errorf("%d rate limited, %d sent; want exactly 5 and 15", limited, len(s.Messages()))
	}
}
