package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/latchkey/latchkey/cmd/latchkey/internal/config"
	"github.com/latchkey/latchkey/idp"
	"github.com/latchkey/latchkey/idp/keys"
	"github.com/latchkey/latchkey/idp/password"
	"github.com/latchkey/latchkey/idp/secretbox"
	"github.com/latchkey/latchkey/idp/storage"
	"github.com/latchkey/latchkey/idp/web"
	"github.com/latchkey/latchkey/mfa/push"
	"github.com/latchkey/latchkey/mfa/push/apns"
	"github.com/latchkey/latchkey/mfa/push/fcm"
	"github.com/latchkey/latchkey/mfa/push/webpush"
	"github.com/latchkey/latchkey/mfa/twilio"
)

// newKeyManager builds the signing-key manager. Retired keys stay published
// for as long as the longest-lived token they signed.
func newKeyManager(cfg config.Config, st storage.Store, secret []byte, log *slog.Logger) (*keys.Manager, error) {
	k, err := secretbox.DeriveKey(secret, "signing-key-encryption")
	if err != nil {
		return nil, err
	}
	box, err := secretbox.New(k)
	if err != nil {
		return nil, err
	}
	retain := max(cfg.Tokens.IDTokenLifetime.Duration, cfg.Tokens.AccessTokenLifetime.Duration) + 5*time.Minute
	return keys.NewManager(st, box, keys.Options{RetainFor: retain, Logger: log}), nil
}

// newProvider wires the OpenID Provider from the configuration: each part
// gets exactly what it uses.
func newProvider(ctx context.Context, cfg config.Config, st storage.Store, secret []byte, log *slog.Logger, dev bool, metrics *idp.Metrics) (*idp.Provider, []idp.Route, error) {
	p, outbox, err := buildProvider(ctx, cfg, st, secret, log, dev, metrics)
	if err != nil || outbox == nil {
		return p, nil, err
	}
	return p, []idp.Route{p.OutboxRoute(outbox)}, nil
}

func buildProvider(ctx context.Context, cfg config.Config, st storage.Store, secret []byte, log *slog.Logger, dev bool, metrics *idp.Metrics) (*idp.Provider, *idp.Outbox, error) {
	km, err := newKeyManager(cfg, st, secret, log)
	if err != nil {
		return nil, nil, err
	}
	hasher, err := password.NewHasher(cfg.Password.Params())
	if err != nil {
		return nil, nil, fmt.Errorf("password hasher: %w", err)
	}
	var proxies []netip.Prefix
	for _, s := range cfg.TrustedProxies {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, nil, fmt.Errorf("trusted_proxies: %w", err)
		}
		proxies = append(proxies, pfx)
	}
	policy, err := cfg.MFA.Policy()
	if err != nil {
		return nil, nil, err
	}
	phone, outbox, err := phoneOptions(cfg, log, dev)
	if err != nil {
		return nil, nil, err
	}
	pushOpts, err := pushOptions(cfg, log, dev)
	if err != nil {
		return nil, nil, err
	}
	t := cfg.Tokens
	p, err := idp.New(ctx, idp.Options{
		Issuer: cfg.Issuer, Store: st, Keys: km, Passwords: hasher, SecretKey: secret,
		DefaultAlg: cfg.Keys.Algorithm,
		Lifetimes: idp.Lifetimes{
			AccessToken: t.AccessTokenLifetime.Duration, IDToken: t.IDTokenLifetime.Duration,
			RefreshToken: t.RefreshTokenLifetime.Duration, AuthorizeCode: t.AuthorizationCodeLifetime.Duration,
			Session: cfg.Session.Lifetime.Duration, SessionIdle: cfg.Session.IdleTimeout.Duration,
			Login: t.LoginTimeout.Duration,
		},
		Throttle: idp.Throttle{
			AccountFreeAttempts: cfg.Login.AccountFreeAttempts, IPFreeAttempts: cfg.Login.IPFreeAttempts,
			BaseDelay: cfg.Login.BaseDelay.Duration, MaxDelay: cfg.Login.MaxDelay.Duration,
			ResetAfter: cfg.Login.ResetAfter.Duration,
		},
		TrustedProxies:          proxies,
		Policy:                  policy,
		AppName:                 cfg.MFA.AppName,
		PasskeyOrigins:          cfg.Passkeys.Origins,
		PasskeyUserVerification: cfg.Passkeys.UserVerification,
		Dev:                     dev,
		TemplatesDir:            devTemplatesDir(dev),
		Logger:                  log,
		Metrics:                 metrics,
		Phone:                   phone,
		Push:                    pushOpts,
	})
	return p, outbox, err
}

// phoneOptions picks the sender of SMS and voice codes: Twilio, or in
// `latchkey dev` (by default) the outbox page.
func phoneOptions(cfg config.Config, log *slog.Logger, dev bool) (idp.PhoneOptions, *idp.Outbox, error) {
	ph := cfg.Phone
	b := ph.Budgets
	opts := idp.PhoneOptions{
		PublicURL: cfg.Twilio.PublicURL, DefaultRegion: ph.DefaultRegion, Countries: ph.Countries,
		VoiceFallback: ph.VoiceFallback, AllowVoIP: ph.AllowVoIP, LineTypeLookup: ph.LineTypeLookup,
		SIMSwapLookup: ph.SIMSwapLookup,
		Budgets: idp.PhoneBudgets{
			PerUser: b.PerUser, PerNumber: b.PerNumber, PerPrefix: b.PerPrefix, PerCountry: b.PerCountry,
			PerIP: b.PerIP, DailySpend: b.DailySpend, SMSCost: b.SMSCost, VoiceCost: b.VoiceCost,
			KillSwitch: b.KillSwitch,
		},
	}
	sender := ph.Sender
	if sender == "" && dev {
		sender = "dev"
	}
	switch sender {
	case "dev":
		outbox := idp.NewOutbox(log)
		opts.Telephony = outbox
		return opts, outbox, nil
	case "twilio":
		tw := cfg.Twilio
		c, err := twilio.New(twilio.Config{
			AccountSID: tw.AccountSID, AuthToken: tw.AuthToken, MessagingServiceSID: tw.MessagingServiceSID,
			SMSFrom: tw.SMSFrom, VoiceFrom: tw.VoiceFrom, Timeout: tw.Timeout.Duration, Logger: log,
		})
		if err != nil {
			return opts, nil, fmt.Errorf("twilio: %w", err)
		}
		opts.Telephony = idp.TwilioTelephony(c, nil)
	}
	return opts, nil, nil
}

// pushOptions builds a sender for each configured push channel; none (push
// off) leaves push approval out of the provider. A key file that cannot be
// read or parsed stops start-up here, with the key's path, rather than
// failing the first sign-in.
func pushOptions(cfg config.Config, log *slog.Logger, dev bool) (idp.PushOptions, error) {
	pc := cfg.Push
	if !pc.Enabled {
		return idp.PushOptions{}, nil
	}
	maxSilence := pc.MaxSilence.Duration
	if maxSilence == 0 {
		maxSilence = -1 // idp.PushOptions: negative is "no limit", zero the default
	}
	opts := idp.PushOptions{
		Senders:    map[string]push.Sender{},
		AckTimeout: pc.AckTimeout.Duration, ChallengeTTL: pc.ChallengeTTL.Duration, MaxSilence: maxSilence,
		PerWindow: pc.PerWindow, Window: pc.Window.Duration, NotMeLock: pc.NotMeLock.Duration,
		SendTimeout: pc.SendTimeout.Duration,
	}
	if w := pc.WebPush; w.Configured() {
		key := w.VAPIDPrivateKey
		if key == "" && dev {
			var err error
			if key, err = devVAPIDKey(log); err != nil {
				return opts, err
			}
		}
		s, err := webpush.New(webpush.Config{VAPIDPrivateKey: key, Subject: w.Subject, AllowedHosts: w.AllowedHosts, Logger: log})
		if err != nil {
			return opts, fmt.Errorf("push.webpush: %w", err)
		}
		opts.Senders[push.ChannelWebPush] = s
		opts.VAPIDPublicKey = s.PublicKey()
	}
	if f := pc.FCM; f.Configured() {
		key, err := os.ReadFile(f.ServiceAccountFile)
		if err != nil {
			return opts, fmt.Errorf("push.fcm.service_account_file: %w", err)
		}
		s, err := fcm.New(fcm.Config{ServiceAccountJSON: key, Endpoint: f.Endpoint, Logger: log})
		if err != nil {
			return opts, fmt.Errorf("push.fcm (%s): %w", f.ServiceAccountFile, err)
		}
		opts.Senders[push.ChannelFCM] = s
	}
	if a := pc.APNs; a.Configured() {
		key, err := os.ReadFile(a.KeyFile)
		if err != nil {
			return opts, fmt.Errorf("push.apns.key_file: %w", err)
		}
		s, err := apns.New(apns.Config{TeamID: a.TeamID, KeyID: a.KeyID, PrivateKeyPEM: key, Topic: a.Topic, Host: a.Host, Logger: log})
		if err != nil {
			return opts, fmt.Errorf("push.apns (%s): %w", a.KeyFile, err)
		}
		opts.Senders[push.ChannelAPNs] = s
	}
	return opts, nil
}

// devTemplatesDir lets `latchkey dev` pick up template edits without a
// rebuild when run from a checkout.
func devTemplatesDir(dev bool) string {
	if !dev {
		return ""
	}
	if fi, err := statDir("templates/pages"); err == nil && fi {
		return "templates"
	}
	return ""
}

// rootHandler adds what every response gets.
func rootHandler(p *idp.Provider, cfg config.Config, metrics *idp.Metrics, extra ...idp.Route) http.Handler {
	if cfg.Metrics.Enabled {
		extra = append(extra, idp.Route{Pattern: "GET /metrics", Handler: metrics.Handler()})
	}
	return web.Chain(p.Handler(extra...),
		web.RequestID,
		web.SecurityHeaders(strings.HasPrefix(cfg.Issuer, "https://")),
		web.LimitBody(cfg.HTTP.MaxBodyBytes),
	)
}

// serveHTTP runs the server until ctx ends, then shuts down gracefully.
func serveHTTP(ctx context.Context, cfg config.Config, h http.Handler, log *slog.Logger, ready func(addr string)) error {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout.Duration,
		ReadTimeout:       cfg.HTTP.ReadTimeout.Duration,
		WriteTimeout:      cfg.HTTP.WriteTimeout.Duration,
		IdleTimeout:       cfg.HTTP.IdleTimeout.Duration,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.HTTP.ShutdownTimeout.Duration)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout.Duration)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// pendingTOTPMaxAge is how long an unconfirmed TOTP enrolment is kept.
const pendingTOTPMaxAge = time.Hour

// janitor removes expired records now and then. Every node runs it; the
// deletes are idempotent, so overlapping runs only cost a query.
func janitor(ctx context.Context, st storage.Store, log *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		now := time.Now()
		for name, f := range map[string]func(context.Context, time.Time) (int64, error){
			"tokens": st.DeleteExpiredTokens, "sessions": st.DeleteExpiredSessions, "login_txs": st.DeleteExpiredLoginTxs,
			"remembered_browsers": st.DeleteExpiredRememberedBrowsers,
			// An enrolment nobody confirmed within the hour is abandoned;
			// its secret should not linger.
			"pending_totp": func(ctx context.Context, now time.Time) (int64, error) {
				return st.DeletePendingTOTP(ctx, now.Add(-pendingTOTPMaxAge))
			},
			"phone_codes": st.DeleteExpiredPhoneCodes,
			// A number nobody proved within the day is abandoned.
			"unverified_phones": func(ctx context.Context, now time.Time) (int64, error) {
				return st.DeleteUnverifiedPhones(ctx, now.Add(-24*time.Hour))
			},
			"push_enrolments": st.DeleteExpiredPushEnrolments,
			// A push's outcome stays readable for a day after it expires,
			// longer than any sign-in that could ask for it.
			"push_challenges": func(ctx context.Context, now time.Time) (int64, error) {
				return st.DeleteExpiredPushChallenges(ctx, now.Add(-24*time.Hour))
			},
			// The longest budget window is a day.
			"budgets": func(ctx context.Context, now time.Time) (int64, error) {
				return st.DeleteStaleBudgets(ctx, now.Add(-48*time.Hour))
			},
		} {
			if n, err := f(ctx, now); err != nil {
				log.WarnContext(ctx, "cleanup failed", "what", name, "err", err)
			} else if n > 0 {
				log.DebugContext(ctx, "cleaned up", "what", name, "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func statDir(path string) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return fi.IsDir(), nil
}
