package otp

import (
	"log/slog"
	"strings"

	"golang.org/x/net/idna"
)

// locale is the wording of codes in one language. In the texts, {app}
// stands for the application's name and {code} for the code (in voice
// parts, the code read digit by digit).
type locale struct {
	// sms is the message body before the origin-bound line. English stays
	// in the GSM-7 alphabet (160 characters a segment: no curly quotes);
	// Japanese is sent as UCS-2 (70 characters a segment).
	sms string
	// say is the language of Twilio's <Say>.
	say string
	// voice is the call's script; the code is read twice.
	voice []string
	// digitSep goes between the digits read out: a pause that makes
	// text-to-speech read each digit ("four, two") rather than a number
	// ("forty-two").
	digitSep string
}

// localeFor picks the wording for a language tag ("ja", "ja-JP", "en_GB"),
// English for any other.
func localeFor(lang string) locale {
	base, _, _ := strings.Cut(strings.ReplaceAll(lang, "_", "-"), "-")
	if strings.EqualFold(base, "ja") {
		return locale{
			sms: "【{app}】ログイン確認コード：{code}\n誰にも教えないでください。",
			say: "ja-JP",
			voice: []string{
				"こちらは{app}です。",
				"ログイン確認コードをお知らせします。",
				"{code}。",
				"繰り返します。",
				"{code}。",
				"以上です。",
			},
			digitSep: "、",
		}
	}
	return locale{
		sms: "Your {app} sign-in code is {code}. Don't share it with anyone.",
		say: "en-US",
		voice: []string{
			"Hello, this is {app}.",
			"Your sign-in code is:",
			"{code}.",
			"I repeat, your code is:",
			"{code}.",
			"Goodbye.",
		},
		digitSep: ", ",
	}
}

// SMSText returns the text message carrying code, in lang (English for a
// language without a translation). Its last line is the origin-bound form
// of the SMS One-Time Codes format (https://wicg.github.io/sms-one-time-codes/),
// "@id.example.com #123456", with host the issuer's host name (as
// url.URL.Hostname gives it; an internationalised name is sent in its
// ASCII form): Safari, Chrome's WebOTP and the phones' keyboards offer the
// code only on that site. A host that is empty or not a domain name gets
// no such line, and the code is typed by hand.
//
// The English text fits one GSM-7 segment and the Japanese one a UCS-2
// segment with a host of up to 19 characters, for an app name of the
// length of "Latchkey".
func SMSText(lang, appName, host, code string) string {
	l := localeFor(lang)
	code = normalizeOr(code)
	text := strings.NewReplacer("{app}", appName, "{code}", code).Replace(l.sms)
	if h, ok := boundHost(host); ok {
		text += "\n\n@" + h + " #" + code
	}
	return text
}

// boundHost returns host as the origin-bound line needs it: lower case
// ASCII (IDNA A-labels), without a trailing dot.
func boundHost(host string) (string, bool) {
	h, err := idna.Lookup.ToASCII(strings.TrimSuffix(host, "."))
	if err != nil || h == "" {
		return "", false
	}
	for _, r := range h {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '.' && r != '-' {
			return "", false
		}
	}
	return h, true
}

// Script is what a voice call says, for the Twilio sender to turn into
// TwiML: each part one <Say> in Language, with a pause between parts.
type Script struct {
	// Language is the <Say> language, such as "en-US" or "ja-JP".
	Language string
	// Parts are the sentences in order; the code is in two of them.
	Parts []string
}

// VoiceScript returns the call script reading code in lang (English for a
// language without a translation): the app's name, then the code digit by
// digit with a pause after each digit, then "I repeat" and the code again,
// for someone who picked up late or is writing it down.
func VoiceScript(lang, appName, code string) Script {
	l := localeFor(lang)
	code = normalizeOr(code)
	digits := make([]string, 0, len(code))
	for _, r := range code {
		digits = append(digits, string(r))
	}
	rep := strings.NewReplacer("{app}", appName, "{code}", strings.Join(digits, l.digitSep))
	parts := make([]string, len(l.voice))
	for i, p := range l.voice {
		parts[i] = rep.Replace(p)
	}
	return Script{Language: l.say, Parts: parts}
}

// String keeps the code out of fmt output.
func (s Script) String() string { return "otp.Script{Language:" + s.Language + " Parts:redacted}" }

// GoString keeps the code out of %#v output.
func (s Script) GoString() string { return s.String() }

// LogValue keeps the code out of logs.
func (s Script) LogValue() slog.Value {
	return slog.GroupValue(slog.String("language", s.Language), slog.Int("parts", len(s.Parts)))
}

var _ slog.LogValuer = Script{}

// normalizeOr returns code normalised when it is a code, as given
// otherwise (the caller's bug, better shown than hidden).
func normalizeOr(code string) string {
	if c, ok := Normalize(code); ok {
		return c
	}
	return code
}
