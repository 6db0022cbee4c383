package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/cmd/latchkey/internal/config"
	"github.com/latchkey/latchkey/idp/password"
	"github.com/latchkey/latchkey/idp/storage"
)

// minPasswordLen is NIST SP 800-63B's minimum for a memorised secret
// chosen by the user (section 5.1.1.1), counted in characters.
const minPasswordLen = 8

// cmdUsers is `latchkey users create|list|delete`.
func cmdUsers(ctx context.Context, args []string, sio stdio, getenv func(string) string) error {
	subs := map[string]func(context.Context, []string, stdio, func(string) string) error{
		"create": usersCreate,
		"list":   usersList,
		"delete": usersDelete,
	}
	return dispatchSub("users", subs, ctx, args, sio, getenv)
}

func usersCreate(ctx context.Context, args []string, sio stdio, getenv func(string) string) error {
	fs, configPath := newFlagSet("users create")
	email := fs.String("email", "", "email `address`, the sign-in name (required)")
	name := fs.String("name", "", "display `name`")
	verified := fs.Bool("email-verified", false, "mark the email address as verified (email_verified claim)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	if err := parseFlags(fs, args, sio.out); err != nil {
		return helpOK(err)
	}
	var errs []error
	addr, err := normalizeEmail(*email)
	if err != nil {
		errs = append(errs, fmt.Errorf("--email: %w", err))
	}
	if !*fromStdin {
		errs = append(errs, errors.New("--password-stdin: is required (passwords are never taken as arguments, which other users can see)"))
	}
	if err := errors.Join(errs...); err != nil {
		return usageError{fmt.Errorf("users create:\n%w", err)}
	}
	pw, err := readPassword(sio.in)
	if err != nil {
		return fmt.Errorf("users create: %w", err)
	}
	cfg, err := loadConfig(*configPath, getenv, config.Tool)
	if err != nil {
		return err
	}
	hasher, err := password.NewHasher(cfg.Password.Params())
	if err != nil {
		return fmt.Errorf("users create: %w", err)
	}
	hash, err := hasher.Hash(pw)
	if err != nil {
		return fmt.Errorf("users create: hash password: %w", err)
	}
	now := time.Now().UTC()
	u := storage.User{
		ID:            randomID(),
		Email:         addr,
		EmailVerified: *verified,
		DisplayName:   strings.TrimSpace(*name),
		PasswordHash:  hash,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	st, err := openMigratedStore(ctx, cfg, newLogger(cfg, sio.err))
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CreateUser(ctx, u); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("users create: a user with email %q already exists", addr)
		}
		return fmt.Errorf("users create: %w", err)
	}
	fmt.Fprintf(sio.out, "user_id: %s\nemail: %s\n", u.ID, u.Email)
	return nil
}

// normalizeEmail trims and lower-cases an address and checks that it is a
// bare addr-spec (no display name, no angle brackets). Lower-casing the
// local part is not RFC 5321, but two accounts differing only in case are
// a phishing aid, not a feature.
func normalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", errors.New("is required")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", fmt.Errorf("%q is not an email address like name@example.com", s)
	}
	if len(s) > 254 { // RFC 5321 section 4.5.3.1.3, less the angle brackets
		return "", errors.New("longer than 254 characters")
	}
	return s, nil
}

// readPassword reads one line from r, without its line ending. Reading
// stops after MaxLength plus a little, so an endless stream is refused
// rather than buffered.
func readPassword(r io.Reader) (string, error) {
	br := bufio.NewReader(io.LimitReader(r, password.MaxLength+3))
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	switch {
	case line == "":
		return "", errors.New("no password on standard input")
	case len(line) > password.MaxLength:
		return "", fmt.Errorf("password longer than %d bytes", password.MaxLength)
	case !utf8.ValidString(line):
		return "", errors.New("password is not valid UTF-8")
	case utf8.RuneCountInString(line) < minPasswordLen:
		return "", fmt.Errorf("password shorter than %d characters", minPasswordLen)
	}
	return line, nil
}

func usersList(ctx context.Context, args []string, sio stdio, getenv func(string) string) error {
	fs, configPath := newFlagSet("users list")
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
	users, err := st.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("users list: %w", err)
	}
	if len(users) == 0 {
		fmt.Fprintln(sio.out, "no users")
		return nil
	}
	tw := tabwriter.NewWriter(sio.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tVERIFIED\tDISABLED\tCREATED")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Email, u.DisplayName,
			yesNo(u.EmailVerified), yesNo(u.Disabled), u.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func usersDelete(ctx context.Context, args []string, sio stdio, getenv func(string) string) error {
	fs, configPath := newFlagSet("users delete")
	email := fs.String("email", "", "email `address` of the user to delete")
	id := fs.String("id", "", "`id` of the user to delete")
	if err := parseFlags(fs, args, sio.out); err != nil {
		return helpOK(err)
	}
	if (*email == "") == (*id == "") {
		return usageError{errors.New("users delete: give exactly one of --email or --id")}
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

	var u storage.User
	which := "id " + strconv.Quote(*id)
	if *id != "" {
		u, err = st.GetUser(ctx, *id)
	} else {
		addr := strings.ToLower(strings.TrimSpace(*email))
		which = "email " + strconv.Quote(addr)
		u, err = st.GetUserByEmail(ctx, addr)
	}
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("users delete: no user with %s", which)
	}
	if err != nil {
		return fmt.Errorf("users delete: %w", err)
	}
	// End the user's sign-ins everywhere before the account goes: browser
	// sessions, then the access and refresh tokens every client holds.
	sessions, err := st.DeleteUserSessions(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("users delete: end sessions: %w", err)
	}
	clients, err := st.ListClients(ctx)
	if err != nil {
		return fmt.Errorf("users delete: %w", err)
	}
	var tokens int64
	for _, c := range clients {
		n, err := st.DeactivateTokensByGrant(ctx, u.ID, c.ID)
		if err != nil {
			return fmt.Errorf("users delete: revoke tokens of client %s: %w", c.ID, err)
		}
		tokens += n
	}
	if err := st.DeleteUser(ctx, u.ID); err != nil {
		return fmt.Errorf("users delete: %w", err)
	}
	fmt.Fprintf(sio.out, "deleted user %s (%s); ended %d sessions, revoked %d tokens\n", u.ID, u.Email, sessions, tokens)
	return nil
}
