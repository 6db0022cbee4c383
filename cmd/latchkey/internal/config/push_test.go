package config

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mfa/push/apns"
	"github.com/latchkey/latchkey/mfa/push/webpush"
)

func testVAPIDKey(t *testing.T) string {
	t.Helper()
	key, _, err := webpush.GenerateVAPIDKey()
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestPushSection(t *testing.T) {
	vapid := testVAPIDKey(t)
	webPush := map[string]string{
		"LATCHKEY_PUSH_ENABLED":                   "true",
		"LATCHKEY_PUSH_WEBPUSH_VAPID_PRIVATE_KEY": vapid,
		"LATCHKEY_PUSH_WEBPUSH_SUBJECT":           "mailto:admin@example.com",
	}
	fcm := map[string]string{
		"LATCHKEY_PUSH_ENABLED":                  "true",
		"LATCHKEY_PUSH_FCM_SERVICE_ACCOUNT_FILE": "/etc/latchkey/fcm.json",
	}
	apnsOn := map[string]string{
		"LATCHKEY_PUSH_ENABLED":       "true",
		"LATCHKEY_PUSH_APNS_KEY_FILE": "/etc/latchkey/AuthKey_ABCDE12345.p8",
		"LATCHKEY_PUSH_APNS_KEY_ID":   "ABCDE12345",
		"LATCHKEY_PUSH_APNS_TEAM_ID":  "TEAM123456",
		"LATCHKEY_PUSH_APNS_TOPIC":    "com.example.authenticator",
	}
	with := func(base map[string]string, kv ...string) map[string]string {
		out := maps.Clone(base)
		if out == nil {
			out = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	cases := []struct {
		name    string
		env     map[string]string
		mode    Mode
		wantErr []string
	}{
		{name: "off by default", env: nil, mode: Serve},
		{name: "off: channels are not checked", mode: Serve, env: map[string]string{"LATCHKEY_PUSH_APNS_KEY_ID": "bad", "LATCHKEY_PUSH_WEBPUSH_SUBJECT": "me"}},
		{name: "enabled without a channel", mode: Dev, env: map[string]string{"LATCHKEY_PUSH_ENABLED": "true"},
			wantErr: []string{"push.enabled: push approval needs a channel"}},
		{name: "web push", env: webPush, mode: Serve},
		{name: "web push with an https subject", mode: Serve, env: with(webPush, "LATCHKEY_PUSH_WEBPUSH_SUBJECT", "https://id.example.com/contact")},
		{name: "web push key from the raw scalar form", mode: Serve,
			env: with(webPush, "LATCHKEY_PUSH_WEBPUSH_VAPID_PRIVATE_KEY", "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE")},
		{name: "dev makes the VAPID key", mode: Dev, env: with(webPush, "LATCHKEY_PUSH_WEBPUSH_VAPID_PRIVATE_KEY", "")},
		{name: "serve needs the VAPID key", mode: Serve, env: with(webPush, "LATCHKEY_PUSH_WEBPUSH_VAPID_PRIVATE_KEY", ""),
			wantErr: []string{"push.webpush.vapid_private_key: is required to serve Web Push", "LATCHKEY_PUSH_WEBPUSH_VAPID_PRIVATE_KEY"}},
		{name: "tools need no VAPID key", mode: Tool, env: with(webPush, "LATCHKEY_PUSH_WEBPUSH_VAPID_PRIVATE_KEY", "")},
		{name: "bad VAPID key", mode: Dev, env: with(webPush, "LATCHKEY_PUSH_WEBPUSH_VAPID_PRIVATE_KEY", "not-a-key"),
			wantErr: []string{"push.webpush.vapid_private_key: VAPID key: neither PEM nor"}},
		{name: "subject required", mode: Dev, env: with(webPush, "LATCHKEY_PUSH_WEBPUSH_SUBJECT", ""),
			wantErr: []string{"push.webpush.subject: is required"}},
		{name: "bad subjects", mode: Dev, env: with(webPush, "LATCHKEY_PUSH_WEBPUSH_SUBJECT", "admin@example.com"),
			wantErr: []string{`push.webpush.subject: must start with "mailto:" or "https://"`}},
		{name: "mailto with a display name", mode: Dev, env: with(webPush, "LATCHKEY_PUSH_WEBPUSH_SUBJECT", "mailto:Admin <a@example.com>"),
			wantErr: []string{"push.webpush.subject: must be mailto: followed by one email address"}},
		{name: "extra push service host", mode: Serve,
			env: with(webPush, "LATCHKEY_PUSH_WEBPUSH_ALLOWED_HOSTS", "fcm.googleapis.com, push.example.net:8443, *.example.org")},
		{name: "bad push service hosts", mode: Dev,
			env: with(webPush, "LATCHKEY_PUSH_WEBPUSH_ALLOWED_HOSTS", "https://push.example.net,*.example.org:443,push.example.net/x,*"),
			wantErr: []string{
				`push.webpush.allowed_hosts[0]: must be host, host:port or *.domain (a wildcard takes no port), got "https://push.example.net"`,
				`push.webpush.allowed_hosts[1]: must be host`, `push.webpush.allowed_hosts[2]: must be host`, `push.webpush.allowed_hosts[3]: must be host`,
			}},
		{name: "fcm", env: fcm, mode: Serve},
		{name: "fcm with an endpoint", mode: Serve, env: with(fcm, "LATCHKEY_PUSH_FCM_ENDPOINT", "https://fcm.example.net")},
		{name: "fcm endpoint alone", mode: Serve,
			env:     map[string]string{"LATCHKEY_PUSH_ENABLED": "true", "LATCHKEY_PUSH_FCM_ENDPOINT": "http://fcm.example.net/v1"},
			wantErr: []string{"push.fcm.service_account_file: is required", `push.fcm.endpoint: must be an https URL without path, query or user, got "http://fcm.example.net/v1"`}},
		{name: "apns", env: apnsOn, mode: Serve},
		{name: "apns sandbox", mode: Serve, env: with(apnsOn, "LATCHKEY_PUSH_APNS_HOST", apns.SandboxHost+"/")},
		{name: "apns host alone is a half-configured section", mode: Dev,
			env:     map[string]string{"LATCHKEY_PUSH_ENABLED": "true", "LATCHKEY_PUSH_APNS_HOST": "api.push.apple.com"},
			wantErr: []string{"push.apns.key_file: is required", "push.apns.key_id: must be", "push.apns.team_id: must be", "push.apns.topic: must be the app's bundle id", `push.apns.host: must be an https URL without path, query or user, got "api.push.apple.com"`}},
		{name: "apns lower-case ids", mode: Dev, env: with(apnsOn, "LATCHKEY_PUSH_APNS_KEY_ID", "abcde12345", "LATCHKEY_PUSH_APNS_TOPIC", "authenticator"),
			wantErr: []string{`push.apns.key_id: must be the auth key's 10-character id (upper-case letters and digits), got "abcde12345"`, `push.apns.topic: must be the app's bundle id (com.example.authenticator), got "authenticator"`}},
		{name: "every channel", mode: Serve, env: with(webPush, slices.Concat(pairs(fcm), pairs(apnsOn))...)},
		{name: "ranges", mode: Dev, env: map[string]string{
			"LATCHKEY_PUSH_ACK_TIMEOUT": "1s", "LATCHKEY_PUSH_CHALLENGE_TTL": "20m", "LATCHKEY_PUSH_MAX_SILENCE": "30m",
			"LATCHKEY_PUSH_PER_WINDOW": "0", "LATCHKEY_PUSH_WINDOW": "48h", "LATCHKEY_PUSH_NOT_ME_LOCK": "30s",
			"LATCHKEY_PUSH_SEND_TIMEOUT": "1m",
		}, wantErr: []string{
			"push.ack_timeout: must be between 5s and 2m, got 1s", "push.challenge_ttl: must be between 30s and 10m, got 20m",
			"push.max_silence: must be between 1h and 8760h, got 30m", "push.per_window: must be between 1 and 100, got 0",
			"push.window: must be between 1m and 24h, got 48h", "push.not_me_lock: must be between 1m and 720h, got 30s",
			"push.send_timeout: must be between 1s and 30s, got 1m", "push.send_timeout: must be shorter than http.write_timeout (30s)",
		}},
		{name: "acknowledgement after the expiry", mode: Dev, env: map[string]string{"LATCHKEY_PUSH_ACK_TIMEOUT": "1m", "LATCHKEY_PUSH_CHALLENGE_TTL": "1m"},
			wantErr: []string{"push.ack_timeout: must be shorter than push.challenge_ttl (1m)"}},
		{name: "send timeout within the write timeout", mode: Dev, env: map[string]string{"LATCHKEY_PUSH_SEND_TIMEOUT": "10s", "LATCHKEY_HTTP_WRITE_TIMEOUT": "10s"},
			wantErr: []string{"push.send_timeout: must be shorter than http.write_timeout (10s)"}},
		{name: "max silence off", mode: Serve, env: with(webPush, "LATCHKEY_PUSH_MAX_SILENCE", "0s")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := with(tc.env, "LATCHKEY_SECRETS_KEY", testKey)
			cfg, err := Load("", func(k string) string { return env[k] })
			if err == nil {
				err = cfg.Validate(tc.mode)
			}
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), vapid) || strings.Contains(err.Error(), "BEGIN PRIVATE KEY") {
				t.Errorf("error echoes the VAPID key: %v", err)
			}
		})
	}
}

// pairs flattens an environment map into key, value, key, value.
func pairs(m map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k, m[k])
	}
	return out
}

// TestPushFile reads every key of the section from TOML, multi-line PEM
// included, and checks the environment wins over the file.
func TestPushFile(t *testing.T) {
	vapid := testVAPIDKey(t)
	path := writeFile(t, `
[push]
enabled = true
ack_timeout = "10s"
challenge_ttl = "90s"
max_silence = "0s"
per_window = 3
window = "1h"
not_me_lock = "24h"
send_timeout = "3s"
[push.webpush]
vapid_private_key = """
`+vapid+`"""
subject = "mailto:admin@example.com"
allowed_hosts = ["push.example.net:8443"]
[push.fcm]
service_account_file = " /etc/latchkey/fcm.json "
endpoint = "https://fcm.example.net"
[push.apns]
key_file = "/etc/latchkey/AuthKey.p8"
key_id = "ABCDE12345"
team_id = "TEAM123456"
topic = "com.example.authenticator"
host = "https://api.sandbox.push.apple.com/"
`)
	cfg, err := Load(path, env(map[string]string{"LATCHKEY_PUSH_PER_WINDOW": "7", "LATCHKEY_PUSH_WEBPUSH_ALLOWED_HOSTS": "Push.Example.net:8443, fcm.googleapis.com"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(Serve); err == nil || !strings.Contains(err.Error(), "secrets.key") || strings.Contains(err.Error(), "push.") {
		t.Errorf("Validate(Serve) without secrets.key = %v, want only the secrets.key problem", err)
	}
	want := Push{
		Enabled: true, AckTimeout: D(10 * time.Second), ChallengeTTL: D(90 * time.Second), MaxSilence: D(0),
		PerWindow: 7, Window: D(time.Hour), NotMeLock: D(24 * time.Hour), SendTimeout: D(3 * time.Second),
		WebPush: PushWebPush{VAPIDPrivateKey: vapid, Subject: "mailto:admin@example.com", AllowedHosts: []string{"push.example.net:8443", "fcm.googleapis.com"}},
		FCM:     PushFCM{ServiceAccountFile: "/etc/latchkey/fcm.json", Endpoint: "https://fcm.example.net"},
		APNs: PushAPNs{KeyFile: "/etc/latchkey/AuthKey.p8", KeyID: "ABCDE12345", TeamID: "TEAM123456",
			Topic: "com.example.authenticator", Host: apns.SandboxHost},
	}
	if got := cfg.Push; fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) || got.WebPush.VAPIDPrivateKey != vapid {
		t.Errorf("push section:\n got %#v\nwant %#v", got, want)
	}
	if !cfg.Push.WebPush.Configured() || !cfg.Push.FCM.Configured() || !cfg.Push.APNs.Configured() {
		t.Errorf("every channel is configured: %v %v %v", cfg.Push.WebPush.Configured(), cfg.Push.FCM.Configured(), cfg.Push.APNs.Configured())
	}
	def := Default().Push
	if def.WebPush.Configured() || def.FCM.Configured() || def.APNs.Configured() {
		t.Error("a default channel section counts as configured")
	}
	if !slices.Equal(def.WebPush.AllowedHosts, webpush.DefaultPushServices) || def.APNs.Host != apns.DefaultHost {
		t.Errorf("defaults are not the senders': %v %s", def.WebPush.AllowedHosts, def.APNs.Host)
	}
	// The default list is a copy: a config that appends to it must not
	// change the sender's.
	def.WebPush.AllowedHosts[0] = "changed.example"
	if webpush.DefaultPushServices[0] == "changed.example" {
		t.Error("Default shares webpush.DefaultPushServices")
	}
}

func TestPushKeyIsRedacted(t *testing.T) {
	vapid := testVAPIDKey(t)
	c := Default()
	c.Push.WebPush.VAPIDPrivateKey = vapid
	c.Push.WebPush.Subject = "mailto:admin@example.com"
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", c, "push", c.Push, "webpush", c.Push.WebPush)
	secret := strings.TrimSpace(vapid)
	body := strings.Split(secret, "\n")[1] // a line of the key's base64
	for _, s := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(c.Push), logged.String()} {
		if strings.Contains(s, body) || strings.Contains(s, "BEGIN PRIVATE KEY") {
			t.Errorf("the VAPID key leaks in %s", s)
		}
	}
	if !strings.Contains(logged.String(), "vapid_private_key="+redacted) || !strings.Contains(logged.String(), "mailto:admin@example.com") {
		t.Errorf("redacted section not logged usefully: %s", logged.String())
	}
}
