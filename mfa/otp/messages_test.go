package otp_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/latchkey/latchkey/mfa/otp"
)

// boundRE is the origin-bound line of the SMS One-Time Codes format, for a
// host Latchkey can have.
var boundRE = regexp.MustCompile(`^@[a-z0-9.-]+ #\d{6}$`)

// gsm7 is the GSM 03.38 basic character set: a message of these alone is
// sent 160 characters to a segment (extension characters count double).
const gsm7 = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

func TestSMSText(t *testing.T) {
	const host, code = "id.example.com", "123456"
	tests := []struct {
		lang, wantStart string
	}{
		{"en", "Your Latchkey sign-in code is 123456."},
		{"en-GB", "Your Latchkey sign-in code is 123456."},
		{"", "Your Latchkey sign-in code is 123456."},
		{"fr", "Your Latchkey sign-in code is 123456."},
		{"jaa", "Your Latchkey sign-in code is 123456."},
		{"ja", "【Latchkey】ログイン確認コード：123456"},
		{"ja-JP", "【Latchkey】ログイン確認コード：123456"},
		{"JA_jp", "【Latchkey】ログイン確認コード：123456"},
	}
	for _, tt := range tests {
		text := otp.SMSText(tt.lang, "Latchkey", host, code)
		if !strings.HasPrefix(text, tt.wantStart) {
			t.Errorf("SMSText(%q) = %q, want it to start %q", tt.lang, text, tt.wantStart)
		}
		// The code once in the text and once in the bound line.
		if n := strings.Count(text, code); n != 2 {
			t.Errorf("SMSText(%q) has the code %d times: %q", tt.lang, n, text)
		}
		const bound = "@id.example.com #123456"
		if n := strings.Count(text, bound); n != 1 {
			t.Errorf("SMSText(%q) has the bound line %d times: %q", tt.lang, n, text)
		}
		body, last, ok := cutLastLine(text)
		if !ok || last != bound || !boundRE.MatchString(last) {
			t.Errorf("SMSText(%q) last line %q, want %q", tt.lang, last, bound)
		}
		// The spec wants the bound line on its own, after the message.
		if !strings.HasSuffix(body, "\n") {
			t.Errorf("SMSText(%q): no blank line before the bound line: %q", tt.lang, text)
		}
	}
}

func cutLastLine(s string) (before, last string, ok bool) {
	i := strings.LastIndexByte(s, '\n')
	if i < 0 {
		return "", s, false
	}
	return s[:i], s[i+1:], true
}

// English is one GSM-7 segment; Japanese, sent as UCS-2, has at most 70
// UTF-16 units to a segment: its text alone is well under, and with a
// host of up to 19 characters the whole message still fits.
func TestSMSTextLength(t *testing.T) {
	en := otp.SMSText("en", "Latchkey", "id.example.com", "123456")
	for _, r := range en {
		if !strings.ContainsRune(gsm7, r) {
			t.Errorf("English text has %q, outside GSM-7: %q", r, en)
		}
	}
	if n := len([]rune(en)); n > 160 {
		t.Errorf("English text is %d characters, more than one segment", n)
	}

	ucs2 := func(s string) int { return len(utf16.Encode([]rune(s))) }
	jaBody := otp.SMSText("ja", "Latchkey", "", "123456")
	if n := ucs2(jaBody); n > 50 {
		t.Errorf("Japanese text is %d UTF-16 units: %q", n, jaBody)
	}
	host19 := "auth.example-abc.jp"
	if len(host19) != 19 {
		t.Fatal(len(host19))
	}
	ja := otp.SMSText("ja", "Latchkey", host19, "123456")
	if n := ucs2(ja); n > 70 {
		t.Errorf("Japanese message with a 19-character host is %d UTF-16 units, more than one segment: %q", n, ja)
	}
}

func TestSMSTextHost(t *testing.T) {
	tests := []struct {
		host, wantLast string
	}{
		{"id.example.com", "@id.example.com #654321"},
		{"ID.Example.COM", "@id.example.com #654321"},
		{"id.example.com.", "@id.example.com #654321"},
		{"localhost", "@localhost #654321"},
		{"bücher.example", "@xn--bcher-kva.example #654321"},
		{"日本語.jp", "@xn--wgv71a119e.jp #654321"},
		// No host, or none a browser could bind: no bound line at all.
		{"", ""},
		{"::1", ""},
		{"[::1]", ""},
		{"id.example.com:8443", ""},
		{"id example.com", ""},
		{"id.example.com\n@evil.example #000000", ""},
	}
	for _, tt := range tests {
		text := otp.SMSText("en", "Latchkey", tt.host, "654321")
		_, last, _ := cutLastLine(text)
		if tt.wantLast == "" {
			if strings.Contains(text, "@") || strings.Count(text, "654321") != 1 {
				t.Errorf("SMSText(host %q) = %q, want no bound line", tt.host, text)
			}
			continue
		}
		if last != tt.wantLast || !boundRE.MatchString(last) {
			t.Errorf("SMSText(host %q) last line %q, want %q", tt.host, last, tt.wantLast)
		}
	}
}

func TestSMSTextNormalizesCode(t *testing.T) {
	text := otp.SMSText("en", "Latchkey", "id.example.com", "０１２ ３４５")
	if !strings.HasSuffix(text, "\n@id.example.com #012345") || strings.Count(text, "012345") != 2 {
		t.Errorf("SMSText = %q", text)
	}
}

func TestVoiceScript(t *testing.T) {
	tests := []struct {
		lang, wantLang, wantDigits, wantRepeat string
	}{
		{"en", "en-US", "0, 4, 2, 1, 7, 9", "I repeat"},
		{"de", "en-US", "0, 4, 2, 1, 7, 9", "I repeat"},
		{"", "en-US", "0, 4, 2, 1, 7, 9", "I repeat"},
		{"ja", "ja-JP", "0、4、2、1、7、9", "繰り返します"},
		{"ja-JP", "ja-JP", "0、4、2、1、7、9", "繰り返します"},
	}
	for _, tt := range tests {
		s := otp.VoiceScript(tt.lang, "Latchkey", "042179")
		if s.Language != tt.wantLang {
			t.Errorf("VoiceScript(%q).Language = %q, want %q", tt.lang, s.Language, tt.wantLang)
		}
		all := strings.Join(s.Parts, "\n")
		if n := strings.Count(all, tt.wantDigits); n != 2 {
			t.Errorf("VoiceScript(%q) reads %q %d times: %q", tt.lang, tt.wantDigits, n, s.Parts)
		}
		// The code as a number would be read "forty-two thousand...".
		if strings.Contains(all, "042179") {
			t.Errorf("VoiceScript(%q) has the code unspaced: %q", tt.lang, s.Parts)
		}
		if !strings.Contains(all, "Latchkey") || !strings.Contains(all, tt.wantRepeat) {
			t.Errorf("VoiceScript(%q) = %q, want the app name and %q", tt.lang, s.Parts, tt.wantRepeat)
		}
		// The repeat comes between the two readings.
		first := strings.Index(all, tt.wantDigits)
		repeat := strings.Index(all, tt.wantRepeat)
		if last := strings.LastIndex(all, tt.wantDigits); !(first < repeat && repeat < last) {
			t.Errorf("VoiceScript(%q) does not say %q between the readings: %q", tt.lang, tt.wantRepeat, s.Parts)
		}
		for i, p := range s.Parts {
			if strings.TrimSpace(p) == "" || strings.ContainsAny(p, "<>&") {
				t.Errorf("VoiceScript(%q) part %d = %q", tt.lang, i, p)
			}
		}
	}
}

func TestScriptRedacts(t *testing.T) {
	s := otp.VoiceScript("en", "Latchkey", "987654")
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("call", "script", s)
	out := fmt.Sprintf("%v %+v %#v %s", s, s, s, s) + logs.String()
	if strings.Contains(out, "9, 8, 7") {
		t.Errorf("code printed: %s", out)
	}
	if !strings.Contains(out, "en-US") {
		t.Errorf("language not printed: %s", out)
	}
}
