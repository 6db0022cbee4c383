package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey/cmd/latchkey/internal/config"
	"github.com/latchkey/latchkey/idp/clientsecret"
	"github.com/latchkey/latchkey/idp/storage"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// Grant types a client may be registered for.
const (
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
	grantClientCredentials = "client_credentials"
)

var (
	defaultScopes     = []string{"openid", "profile", "email", "offline_access"}
	defaultGrantTypes = []string{grantAuthorizationCode, grantRefreshToken}
)

// cmdClients is `latchkey clients create|list|delete`.
func cmdClients(ctx context.Context, args []string, sio stdio, getenv func(string) string) error {
	subs := map[string]func(context.Context, []string, stdio, func(string) string) error{
		"create": clientsCreate,
		"list":   clientsList,
		"delete": clientsDelete,
	}
	return dispatchSub("clients", subs, ctx, args, sio, getenv)
}

// dispatchSub runs the sub-subcommand args[0] of a command like clients.
func dispatchSub(name string, subs map[string]func(context.Context, []string, stdio, func(string) string) error,
	ctx context.Context, args []string, sio stdio, getenv func(string) string) error {
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range subs {
			if !yield(n) {
				return
			}
		}
	})
	want := strings.Join(names, "|")
	if len(args) == 0 {
		return usageError{fmt.Errorf("%s: missing subcommand (want %s)", name, want)}
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(sio.out, "Usage: latchkey %s %s [flags]\nRun 'latchkey %s <subcommand> -h' for its flags.\n", name, want, name)
		return nil
	}
	run, ok := subs[args[0]]
	if !ok {
		return usageError{fmt.Errorf("%s: unknown subcommand %q (want %s)", name, args[0], want)}
	}
	return run(ctx, args[1:], sio, getenv)
}

func clientsCreate(ctx context.Context, args []string, sio stdio, getenv func(string) string) error {
	fs, configPath := newFlagSet("clients create")
	var redirects, postLogout, scopes, grants listFlag
	id := fs.String("id", "", "client `id` (default: random)")
	name := fs.String("name", "", "display `name`, shown on the consent page (required)")
	fs.Var(&redirects, "redirect-uri", "allowed redirect `URI` (repeatable; required for authorization_code)")
	fs.Var(&postLogout, "post-logout-redirect-uri", "allowed post-logout redirect `URI` (repeatable)")
	public := fs.Bool("public", false, "public client (SPA, native app): no secret, PKCE required")
	firstParty := fs.Bool("first-party", false, "first-party client: no consent screen")
	fs.Var(&scopes, "scope", "allowed `scope` (repeatable; default: "+strings.Join(defaultScopes, " ")+")")
	fs.Var(&grants, "grant-type", "allowed grant `type` (repeatable; default: "+strings.Join(defaultGrantTypes, ", ")+
		"; client_credentials for confidential clients only)")
	alg := fs.String("id-token-alg", "", "id_token signing `alg`: ES256 or RS256 (default: keys.algorithm from the config)")
	if err := parseFlags(fs, args, sio.out); err != nil {
		return helpOK(err)
	}
	cfg, err := loadConfig(*configPath, getenv, config.Tool)
	if err != nil {
		return err
	}
	if len(scopes) == 0 {
		scopes = defaultScopes
	}
	if len(grants) == 0 {
		grants = defaultGrantTypes
	}
	if *alg == "" {
		*alg = cfg.Keys.Algorithm
	}
	if *id == "" {
		*id = randomID()
	}
	c := storage.Client{
		ID:                     strings.TrimSpace(*id),
		Name:                   strings.TrimSpace(*name),
		Public:                 *public,
		FirstParty:             *firstParty,
		RedirectURIs:           redirects,
		PostLogoutRedirectURIs: postLogout,
		GrantTypes:             unique(grants),
		Scopes:                 unique(scopes),
		IDTokenSigningAlg:      strings.ToUpper(*alg),
		CreatedAt:              time.Now().UTC(),
	}
	if err := validateClient(c); err != nil {
		return usageError{fmt.Errorf("clients create:\n%w", err)}
	}
	if slices.Contains(c.GrantTypes, grantAuthorizationCode) {
		c.ResponseTypes = []string{"code"}
	}
	var secret string
	if c.Public {
		c.TokenEndpointAuthMethod = "none"
	} else {
		c.TokenEndpointAuthMethod = "client_secret_basic"
		if secret, err = clientsecret.Generate(); err != nil {
			return fmt.Errorf("clients create: %w", err)
		}
		if c.SecretHash, err = clientsecret.Hash(secret); err != nil {
			return fmt.Errorf("clients create: %w", err)
		}
	}

	st, err := openMigratedStore(ctx, cfg, newLogger(cfg, sio.err))
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CreateClient(ctx, c); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("clients create: a client with id %q already exists", c.ID)
		}
		return fmt.Errorf("clients create: %w", err)
	}
	printClient(sio.out, c)
	if secret != "" {
		fmt.Fprintf(sio.out, "client_secret: %s\n", secret)
		fmt.Fprintln(sio.err, "WARNING: the client secret is shown only this once; Latchkey stores only a hash of it. Copy it now.")
	}
	return nil
}

func printClient(w io.Writer, c storage.Client) {
	kind := "confidential"
	if c.Public {
		kind = "public"
	}
	fmt.Fprintf(w, "client_id: %s\nname: %s\ntype: %s\nfirst_party: %t\ntoken_endpoint_auth_method: %s\n",
		c.ID, c.Name, kind, c.FirstParty, c.TokenEndpointAuthMethod)
	fmt.Fprintf(w, "grant_types: %s\nscopes: %s\nid_token_signed_response_alg: %s\n",
		strings.Join(c.GrantTypes, " "), strings.Join(c.Scopes, " "), c.IDTokenSigningAlg)
	for _, u := range c.RedirectURIs {
		fmt.Fprintf(w, "redirect_uri: %s\n", u)
	}
	for _, u := range c.PostLogoutRedirectURIs {
		fmt.Fprintf(w, "post_logout_redirect_uri: %s\n", u)
	}
}

// validateClient reports every problem of a client to be registered.
func validateClient(c storage.Client) error {
	var errs []error
	if c.ID == "" || len(c.ID) > 200 || strings.ContainsFunc(c.ID, func(r rune) bool { return r <= ' ' || r == 0x7f || r == ':' }) {
		// ':' would make the id ambiguous in HTTP Basic credentials
		// (RFC 6749 section 2.3.1 form-encodes, but clients often don't).
		errs = append(errs, errors.New("--id: must be 1 to 200 printable characters without spaces or ':'"))
	}
	if c.Name == "" {
		errs = append(errs, errors.New("--name: is required"))
	}
	for _, g := range c.GrantTypes {
		switch g {
		case grantAuthorizationCode, grantRefreshToken:
		case grantClientCredentials:
			if c.Public {
				errs = append(errs, errors.New("--grant-type client_credentials: needs a confidential client (drop --public)"))
			}
		default:
			errs = append(errs, fmt.Errorf("--grant-type %q: want authorization_code, refresh_token or client_credentials", g))
		}
	}
	hasCode := slices.Contains(c.GrantTypes, grantAuthorizationCode)
	if slices.Contains(c.GrantTypes, grantRefreshToken) && !hasCode {
		errs = append(errs, errors.New("--grant-type refresh_token: needs authorization_code too (client_credentials gets no refresh tokens)"))
	}
	if hasCode && len(c.RedirectURIs) == 0 {
		errs = append(errs, errors.New("--redirect-uri: at least one is required for authorization_code"))
	}
	for _, u := range c.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			errs = append(errs, fmt.Errorf("--redirect-uri %q: %w", u, err))
		}
	}
	for _, u := range c.PostLogoutRedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			errs = append(errs, fmt.Errorf("--post-logout-redirect-uri %q: %w", u, err))
		}
	}
	for _, s := range c.Scopes {
		if !validScopeToken(s) {
			errs = append(errs, fmt.Errorf("--scope %q: not a scope token (RFC 6749 section 3.3: printable ASCII without spaces, '\"' or '\\\\')", s))
		}
	}
	if c.IDTokenSigningAlg != "ES256" && c.IDTokenSigningAlg != "RS256" {
		errs = append(errs, fmt.Errorf("--id-token-alg %q: want ES256 or RS256", c.IDTokenSigningAlg))
	}
	return errors.Join(errs...)
}

// checkRedirectURI applies RFC 6749 section 3.1.2 (absolute, no fragment)
// and RFC 8252 (native apps): plain http only to a loopback host (section
// 7.3), and custom schemes only in reverse-domain form (section 7.1), so
// that another app cannot simply claim "myapp:".
func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URI")
	}
	if !u.IsAbs() {
		return errors.New("must be absolute (with a scheme)")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("must not contain a fragment (RFC 6749 section 3.1.2)")
	}
	if u.User != nil {
		return errors.New("must not contain user info")
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "https":
		if u.Hostname() == "" {
			return errors.New("has no host")
		}
	case scheme == "http":
		if !isLoopbackHost(u.Hostname()) {
			return errors.New("http is allowed only for loopback hosts (localhost, 127.0.0.1, [::1]); use https")
		}
	case strings.Contains(scheme, "."):
		// A private-use scheme of a native app, e.g. com.example.app:/cb.
	default:
		return fmt.Errorf("scheme %q not allowed: use https, http on a loopback host, or a reverse-domain private-use scheme like com.example.app (RFC 8252 section 7.1)", u.Scheme)
	}
	return nil
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// validScopeToken: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// unique drops repeated entries, keeping the first of each.
func unique(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// randomID returns 128 random bits in hex.
func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

func clientsList(ctx context.Context, args []string, sio stdio, getenv func(string) string) error {
	fs, configPath := newFlagSet("clients list")
	if err := parseFlags(fs, args, sio.out); err != nil {
		return helpOK(err)
	}
	cfg, err := loadConfig(*configPath, getenv, config.Tool)
	if err != nil {
		return err
	}
	st, err := openMigratedStore(ctx, cfg, newLogger(cfg, sio.err))
	if err != nil {
		return err
	}
	defer st.Close()
	clients, err := st.ListClients(ctx)
	if err != nil {
		return fmt.Errorf("clients list: %w", err)
	}
	if len(clients) == 0 {
		fmt.Fprintln(sio.out, "no clients")
		return nil
	}
	tw := tabwriter.NewWriter(sio.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTYPE\tFIRST-PARTY\tREDIRECT URIS")
	for _, c := range clients {
		kind := "confidential"
		if c.Public {
			kind = "public"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, kind, yesNo(c.FirstParty), strings.Join(c.RedirectURIs, " "))
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func clientsDelete(ctx context.Context, args []string, sio stdio, getenv func(string) string) error {
	fs, configPath := newFlagSet("clients delete")
	id := fs.String("id", "", "`id` of the client to delete (required)")
	if err := parseFlags(fs, args, sio.out); err != nil {
		return helpOK(err)
	}
	if *id == "" {
		return usageError{errors.New("clients delete: --id is required")}
	}
	cfg, err := loadConfig(*configPath, getenv, config.Tool)
	if err != nil {
		return err
	}
	st, err := openMigratedStore(ctx, cfg, newLogger(cfg, sio.err))
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.DeleteClient(ctx, *id); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("clients delete: no client with id %q", *id)
		}
		return fmt.Errorf("clients delete: %w", err)
	}
	fmt.Fprintf(sio.out, "deleted client %s\n", *id)
	return nil
}
