package push

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// docs/push-protocol.md is what app authors build from, and the idp
// handlers follow it: these tests keep its examples, bodies and error
// table true to the code.

const docPath = "../../docs/push-protocol.md"

func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// block returns the first fenced block after the marker comment.
func block(t *testing.T, doc, marker string) string {
	t.Helper()
	_, after, ok := strings.Cut(doc, "<!-- "+marker+" -->\n```\n")
	if !ok {
		t.Fatalf("no %s block", marker)
	}
	body, _, _ := strings.Cut(after, "\n```")
	return body
}

func jsonBlocks(doc string) []string {
	var out []string
	for _, m := range regexp.MustCompile("(?s)```json\n(.*?)\n```").FindAllStringSubmatch(doc, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestDocExampleKey(t *testing.T) {
	doc := readDoc(t)
	lines := strings.Split(block(t, doc, "example-key"), "\n")
	canonical := strings.TrimSpace(strings.TrimPrefix(lines[0], "canonical JSON"))
	id := strings.TrimSpace(strings.TrimPrefix(lines[1], "device id"))
	var k JWK
	if err := json.Unmarshal([]byte(canonical), &k); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(canonical))
	if b64.EncodeToString(sum[:]) != id || k.Thumbprint() != id {
		t.Fatalf("doc says %s; SHA-256 of its canonical JSON is %s, Thumbprint %s", id, b64.EncodeToString(sum[:]), k.Thumbprint())
	}
	if _, err := k.PublicKey(); err != nil {
		t.Fatal(err)
	}
}

func TestDocExampleRequests(t *testing.T) {
	doc := readDoc(t)
	id := strings.TrimSpace(strings.TrimPrefix(strings.Split(block(t, doc, "example-key"), "\n")[1], "device id"))
	const iss = "https://id.example.com"
	var key JWK
	for _, ex := range []struct {
		marker string
		iat    int64
		kind   Kind
	}{{"example-enrol", 1773480413, KindEnrol}, {"example-answer", 1773480453, KindAnswer}} {
		compact := block(t, doc, ex.marker)
		r, err := ParseRequest(compact, iss, time.Unix(ex.iat, 0), ex.kind)
		if err != nil {
			t.Fatalf("%s: %v", ex.marker, err)
		}
		if r.DeviceID != id {
			t.Errorf("%s: device %s, doc says %s", ex.marker, r.DeviceID, id)
		}
		key = r.Key
		// The decoded header and payload are on the page, byte for byte.
		parts := strings.Split(compact, ".")
		for _, p := range parts[:2] {
			b, _ := b64.DecodeString(p)
			if !strings.Contains(doc, "\n"+string(b)+"\n") {
				t.Errorf("%s: %s not shown on the page", ex.marker, b)
			}
		}
	}
	// The unsigned payloads shown for comparison pass every claim check.
	_, other, ok := strings.Cut(doc, "Other payloads, for comparison:\n\n```json\n")
	if !ok {
		t.Fatal("no other payloads")
	}
	other, _, _ = strings.Cut(other, "\n```")
	for _, line := range strings.Split(other, "\n") {
		var c struct {
			Kind Kind  `json:"kind"`
			IAT  int64 `json:"iat"`
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if _, err := parseClaims([]byte(line), key, iss, time.Unix(c.IAT, 0), c.Kind); err != nil {
			t.Errorf("%s: %v", line, err)
		}
	}
}

// strictDecode fails on members the Go type does not have.
func strictDecode(s string, v any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func TestDocResponseBodies(t *testing.T) {
	found := map[string]bool{}
	for _, b := range jsonBlocks(readDoc(t)) {
		var err error
		switch {
		case strings.HasPrefix(b, `{"device"`):
			var v DeviceStatus
			err = strictDecode(b, &v)
			found["status"] = v.Device != "" && v.PushReady
		case strings.Contains(b, `"choices"`):
			var v ChallengeDetails
			err = strictDecode(b, &v)
			found["details"] = len(v.Choices) == NumChoices && v.Nonce != "" && v.ExpiresIn > 0
			if strings.Contains(b, `"number"`) {
				t.Error("the fetch response shows a number")
			}
		case strings.HasPrefix(b, `{"result"`):
			var v AnswerResult
			err = strictDecode(b, &v)
			found["result"] = v.Result == ResultApproved
		case strings.HasPrefix(b, `{"error"`):
			var v ErrorBody
			err = strictDecode(b, &v)
			found["error"] = v.AttemptsLeft != nil
		case strings.HasPrefix(b, `{"iss"`):
			var v Message
			err = strictDecode(b, &v)
			found["push"] = v.Issuer != "" && v.ChallengeID != ""
		}
		if err != nil {
			t.Errorf("%s: %v", b, err)
		}
	}
	for _, k := range []string{"status", "details", "result", "error", "push"} {
		if !found[k] {
			t.Errorf("no valid %s example on the page", k)
		}
	}
}

// The error table lists exactly the statuses and codes Status gives.
func TestDocErrorTable(t *testing.T) {
	doc := readDoc(t)
	inDoc := map[string]int{}
	for _, m := range regexp.MustCompile("(?m)^\\| (\\d{3}) \\| `([a-z_]+)` \\|").FindAllStringSubmatch(doc, -1) {
		status, _ := strconv.Atoi(m[1])
		inDoc[m[2]] = status
	}
	inCode := map[string]int{}
	for _, err := range []error{
		ErrMalformed, ErrBadSignature, ErrStale, ErrWrongAudience, ErrWrongKind, ErrKeyMismatch, ErrNonce,
		ErrExpired, ErrWrongNumber, ErrDecoyPicked, ErrReplayed, ErrInvalidToken, ErrDeviceExists,
		ErrUnknownDevice, ErrUnknownChallenge, ErrAnswered, ErrChallengeEnded, ErrRateLimited, errors.New("other"),
	} {
		status, code := Status(err)
		inCode[code] = status
	}
	for code, status := range inCode {
		if inDoc[code] != status {
			t.Errorf("%s: Status gives %d, the doc %d", code, status, inDoc[code])
		}
	}
	for code := range inDoc {
		if _, ok := inCode[code]; !ok {
			t.Errorf("the doc lists %s, which no error gives", code)
		}
	}
	if !bytes.Contains([]byte(doc), []byte("Content-Type: "+ContentType)) {
		t.Errorf("the doc does not name %s", ContentType)
	}
}
