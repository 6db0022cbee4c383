package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/mfa/push/apns"
	"github.com/latchkey/latchkey/mfa/push/webpush"
)

// Push is the [push] section: push approval with number matching, and
// the push services that carry the content-free pushes. Each channel
// section ([push.webpush], [push.fcm], [push.apns]) that sets any key is
// used; push approval needs at least one.
type Push struct {
	Enabled bool `toml:"enabled"`
	// AckTimeout: a push the device has not fetched (acknowledged) within
	// it gives way to the next factor.
	AckTimeout Duration `toml:"ack_timeout"`
	// ChallengeTTL: how long a push may be approved.
	ChallengeTTL Duration `toml:"challenge_ttl"`
	// MaxSilence: a device not heard from for longer is not push-ready;
	// 0 turns the rule off.
	MaxSilence Duration `toml:"max_silence"`
	// PerWindow pushes per user per Window at most (push bombing).
	PerWindow int      `toml:"per_window"`
	Window    Duration `toml:"window"`
	// NotMeLock: how long "this wasn't me" locks push for the user.
	NotMeLock Duration `toml:"not_me_lock"`
	// SendTimeout bounds one push service call, retries included; the
	// sign-in page waits for it.
	SendTimeout Duration `toml:"send_timeout"`

	WebPush PushWebPush `toml:"webpush"`
	FCM     PushFCM     `toml:"fcm"`
	APNs    PushAPNs    `toml:"apns"`
}

// PushWebPush is [push.webpush]: Web Push (RFC 8030, 8291, 8292) to the
// companion web app. Its String, GoString and LogValue redact the VAPID
// private key.
type PushWebPush struct {
	// VAPIDPrivateKey is the application server's P-256 key: PEM (PKCS #8
	// or SEC 1) or the base64url raw scalar. `latchkey dev` keeps one in a
	// file when it is empty.
	VAPIDPrivateKey string `toml:"vapid_private_key"`
	// Subject is the VAPID contact: mailto: or an https URL.
	Subject string `toml:"subject"`
	// AllowedHosts are the push services Latchkey posts to (a device
	// chooses its endpoint, so anything else is refused): host, host:port
	// or *.domain.
	AllowedHosts []string `toml:"allowed_hosts"`
}

// PushFCM is [push.fcm]: Firebase Cloud Messaging HTTP v1 for Android
// apps.
type PushFCM struct {
	// ServiceAccountFile is the path of the service-account JSON key.
	ServiceAccountFile string `toml:"service_account_file"`
	// Endpoint is the FCM API's base URL; empty: Google's.
	Endpoint string `toml:"endpoint"`
}

// PushAPNs is [push.apns]: the APNs provider API (token auth) for iOS
// apps.
type PushAPNs struct {
	KeyFile string `toml:"key_file"` // the .p8 auth key
	KeyID   string `toml:"key_id"`
	TeamID  string `toml:"team_id"`
	Topic   string `toml:"topic"` // the app's bundle id
	// Host is the APNs base URL: production, or the sandbox for
	// development builds of the app.
	Host string `toml:"host"`
}

func defaultPush() Push {
	return Push{
		AckTimeout:   D(15 * time.Second),
		ChallengeTTL: D(2 * time.Minute),
		MaxSilence:   D(720 * time.Hour),
		PerWindow:    5,
		Window:       D(15 * time.Minute),
		NotMeLock:    D(time.Hour),
		SendTimeout:  D(5 * time.Second),
		WebPush:      PushWebPush{AllowedHosts: slices.Clone(webpush.DefaultPushServices)},
		FCM:          PushFCM{},
		APNs:         PushAPNs{Host: apns.DefaultHost},
	}
}

// Configured reports whether the section sets anything, which is what
// puts Web Push to use.
func (w PushWebPush) Configured() bool {
	return w.VAPIDPrivateKey != "" || w.Subject != "" || !slices.Equal(w.AllowedHosts, webpush.DefaultPushServices)
}

// Configured reports whether the section sets anything.
func (f PushFCM) Configured() bool { return f != PushFCM{} }

// Configured reports whether the section sets anything.
func (a PushAPNs) Configured() bool { return a != PushAPNs{Host: apns.DefaultHost} }

var (
	// Apple's team and key ids are 10 characters; a topic is a bundle id.
	appleIDPattern  = regexp.MustCompile(`^[A-Z0-9]{10}$`)
	bundleIDPattern = regexp.MustCompile(`^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$`)
)

func (p *Push) normalize() {
	w := &p.WebPush
	w.Subject = strings.TrimSpace(w.Subject)
	for i := range w.AllowedHosts {
		w.AllowedHosts[i] = strings.ToLower(strings.TrimSpace(w.AllowedHosts[i]))
	}
	p.FCM.ServiceAccountFile = strings.TrimSpace(p.FCM.ServiceAccountFile)
	p.FCM.Endpoint = strings.TrimSpace(p.FCM.Endpoint)
	a := &p.APNs
	a.KeyFile, a.KeyID, a.TeamID = strings.TrimSpace(a.KeyFile), strings.TrimSpace(a.KeyID), strings.TrimSpace(a.TeamID)
	a.Topic, a.Host = strings.TrimSpace(a.Topic), strings.TrimRight(strings.TrimSpace(a.Host), "/")
}

// validate checks the ranges always and the channels when push is on.
// Key files are read at start-up, not here: offline subcommands load the
// configuration too and need no push credentials.
func (p Push) validate(v *validator, h HTTP, mode Mode) {
	v.between("push.ack_timeout", p.AckTimeout, 5*time.Second, 2*time.Minute)
	v.between("push.challenge_ttl", p.ChallengeTTL, 30*time.Second, 10*time.Minute)
	if p.AckTimeout.Duration >= p.ChallengeTTL.Duration {
		v.problem("push.ack_timeout", "must be shorter than push.challenge_ttl (%s)", p.ChallengeTTL)
	}
	if p.MaxSilence.Duration != 0 {
		v.between("push.max_silence", p.MaxSilence, time.Hour, 365*24*time.Hour)
	}
	v.intBetween("push.per_window", int64(p.PerWindow), 1, 100)
	// The janitor keeps budget rows for two days: a longer window would
	// forget pushes it still counts.
	v.between("push.window", p.Window, time.Minute, 24*time.Hour)
	v.between("push.not_me_lock", p.NotMeLock, time.Minute, 720*time.Hour)
	v.between("push.send_timeout", p.SendTimeout, time.Second, 30*time.Second)
	if p.SendTimeout.Duration >= h.WriteTimeout.Duration {
		// The sign-in page is written after the send returns.
		v.problem("push.send_timeout", "must be shorter than http.write_timeout (%s)", h.WriteTimeout)
	}
	if !p.Enabled {
		return
	}
	if !p.WebPush.Configured() && !p.FCM.Configured() && !p.APNs.Configured() {
		v.problem("push.enabled", "push approval needs a channel: set [push.webpush] subject (and vapid_private_key; `latchkey dev` makes one), [push.fcm] or [push.apns]")
		return
	}
	if p.WebPush.Configured() {
		p.WebPush.validate(v, mode)
	}
	if p.FCM.Configured() {
		p.FCM.validate(v)
	}
	if p.APNs.Configured() {
		p.APNs.validate(v)
	}
}

func (w PushWebPush) validate(v *validator, mode Mode) {
	switch {
	case w.VAPIDPrivateKey == "" && mode == Serve:
		v.problem("push.webpush.vapid_private_key", "is required to serve Web Push; generate one with: openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt (prefer LATCHKEY_PUSH_WEBPUSH_VAPID_PRIVATE_KEY)")
	case w.VAPIDPrivateKey != "":
		if _, err := webpush.ParseVAPIDKey(w.VAPIDPrivateKey); err != nil {
			// The parser's message never echoes the key.
			v.problem("push.webpush.vapid_private_key", "%s", strings.TrimPrefix(err.Error(), "webpush: "))
		}
	}
	v.check("push.webpush.subject", checkVAPIDSubject(w.Subject))
	if len(w.AllowedHosts) == 0 {
		v.problem("push.webpush.allowed_hosts", "must list at least one push service")
	}
	for i, host := range w.AllowedHosts {
		if !pushHostPattern.MatchString(host) || strings.HasPrefix(host, "*.") && strings.Contains(host, ":") {
			v.problem(fmt.Sprintf("push.webpush.allowed_hosts[%d]", i), "must be host, host:port or *.domain (a wildcard takes no port), got %q", host)
		}
	}
}

// pushHostPattern is a host name, optionally with a port or a leading
// "*." (any subdomain), as the Web Push sender matches endpoints.
var pushHostPattern = regexp.MustCompile(`^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$`)

// checkVAPIDSubject applies RFC 8292 section 2.1: the push service's
// operator must be able to reach whoever sends, by mail or a web page.
func checkVAPIDSubject(s string) error {
	switch {
	case s == "":
		return errors.New(`is required: "mailto:admin@example.com" or an https URL`)
	case strings.HasPrefix(s, "mailto:"):
		addr := strings.TrimPrefix(s, "mailto:")
		if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr {
			return fmt.Errorf("must be mailto: followed by one email address, got %q", s)
		}
	case strings.HasPrefix(s, "https://"):
		if u, err := url.Parse(s); err != nil || u.Hostname() == "" || u.User != nil {
			return fmt.Errorf("must be an https URL with a host, got %q", s)
		}
	default:
		return fmt.Errorf(`must start with "mailto:" or "https://", got %q`, s)
	}
	return nil
}

func (f PushFCM) validate(v *validator) {
	if f.ServiceAccountFile == "" {
		v.problem("push.fcm.service_account_file", "is required: the path of the service account's JSON key (Firebase console, Project settings, Service accounts)")
	}
	if f.Endpoint != "" {
		v.check("push.fcm.endpoint", checkBaseURL(f.Endpoint))
	}
}

func (a PushAPNs) validate(v *validator) {
	if a.KeyFile == "" {
		v.problem("push.apns.key_file", "is required: the path of the .p8 auth key")
	}
	if !appleIDPattern.MatchString(a.KeyID) {
		v.problem("push.apns.key_id", "must be the auth key's 10-character id (upper-case letters and digits), got %q", a.KeyID)
	}
	if !appleIDPattern.MatchString(a.TeamID) {
		v.problem("push.apns.team_id", "must be the 10-character team id (upper-case letters and digits), got %q", a.TeamID)
	}
	if !bundleIDPattern.MatchString(a.Topic) {
		v.problem("push.apns.topic", "must be the app's bundle id (com.example.authenticator), got %q", a.Topic)
	}
	v.check("push.apns.host", checkBaseURL(a.Host))
}

// checkBaseURL accepts an https URL with nothing after the host: the
// senders add the API paths, and credentials must not travel in clear.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("must be an https URL without path, query or user, got %q", s)
	}
	return nil
}

// String redacts the VAPID private key.
func (w PushWebPush) String() string {
	return fmt.Sprintf("{VAPIDPrivateKey:%s Subject:%s AllowedHosts:%v}", redactSet(w.VAPIDPrivateKey), w.Subject, w.AllowedHosts)
}

// GoString redacts the VAPID private key in %#v.
func (w PushWebPush) GoString() string { return "config.PushWebPush" + w.String() }

// LogValue redacts the VAPID private key.
func (w PushWebPush) LogValue() slog.Value {
	return slog.GroupValue(slog.String("vapid_private_key", redactSet(w.VAPIDPrivateKey)),
		slog.String("subject", w.Subject), slog.Any("allowed_hosts", w.AllowedHosts))
}

func redactSet(secret string) string {
	if secret == "" {
		return ""
	}
	return redacted
}
