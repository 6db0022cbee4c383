package push

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// RFC 9449 (DPoP) Figure 2 is an ES256 JWS with its P-256 key in the
// header, made by another implementation; Figure 9 publishes that key's
// RFC 7638 thumbprint. They check the verifier and the thumbprint against
// the outside world rather than against this package's own signer.
const (
	rfc9449Proof = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19" +
		".eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ" +
		".2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
	rfc9449JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
)

func TestRFC9449Vector(t *testing.T) {
	j, err := parseJWS(rfc9449Proof)
	if err != nil {
		t.Fatalf("parseJWS: %v", err)
	}
	if got := j.key.Thumbprint(); got != rfc9449JKT {
		t.Errorf("thumbprint %s, RFC 9449 says %s", got, rfc9449JKT)
	}
	if !strings.Contains(string(j.payload), `"htu":"https://server.example.com/token"`) {
		t.Errorf("payload %s", j.payload)
	}
	// One flipped bit anywhere in the signature and it no longer verifies.
	parts := strings.Split(rfc9449Proof, ".")
	sig, _ := b64.DecodeString(parts[2])
	for i := range sig {
		bad := append([]byte(nil), sig...)
		bad[i] ^= 0x01
		if _, err := parseJWS(parts[0] + "." + parts[1] + "." + b64.EncodeToString(bad)); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("bit flipped in byte %d: err = %v", i, err)
		}
	}
	// It is not a Latchkey request: the type differs.
	if _, err := ParseRequest(rfc9449Proof, "https://server.example.com", time.Unix(1562262616, 0), KindFetch); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseRequest of a DPoP proof: %v", err)
	}
}

func TestDecodeObject(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`{"a":1,"b":{"a":2}}`, true}, // the same name in a nested object is another member
		{` {"a" : "x"} `, true},
		{`{}`, true},
		{`{"a":1,"a":1}`, false},
		{`{"a":1,"A":2}`, true}, // names are case-sensitive (RFC 7159 §8.3)
		{`{"a":1}{}`, false},
		{`{"a":1,}`, false},
		{`[]`, false},
		{`"a"`, false},
		{`{"a":}`, false},
		{``, false},
		{"{\"a\":\"\xc3\"}", false},
	} {
		m, err := decodeObject([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("decodeObject(%q) = %v, %v", tc.in, m, err)
		}
	}
}
