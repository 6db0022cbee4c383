package main

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/password"
	"github.com/latchkey/latchkey/idp/storage"
)

func TestUsersCreate(t *testing.T) {
	env := testEnv(t)
	out, _, err := runCmd(t, env, "correct horse battery staple\n", "users", "create",
		"--email", "  Ada@Example.COM ", "--name", "Ada Lovelace", "--password-stdin", "--email-verified")
	if err != nil {
		t.Fatal(err)
	}
	if field(out, "email") != "ada@example.com" || len(field(out, "user_id")) != 32 {
		t.Fatalf("output:\n%s", out)
	}
	st := openTestStore(t, env)
	u, err := st.GetUserByEmail(context.Background(), "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != field(out, "user_id") || u.DisplayName != "Ada Lovelace" || !u.EmailVerified || u.Disabled {
		t.Errorf("stored user %+v", u)
	}
	h, err := password.NewHasher(password.Params{MemoryKiB: 7168, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	ok, rehash, err := h.Verify(u.PasswordHash, "correct horse battery staple")
	if err != nil || !ok || rehash {
		t.Errorf("stored hash %q: Verify = %v, %v, %v (the configured params must be used)", u.PasswordHash, ok, rehash, err)
	}
	if ok, _, _ := h.Verify(u.PasswordHash, "correct horse battery staple\n"); ok {
		t.Error("the newline was hashed with the password")
	}

	list, _, err := runCmd(t, env, "", "users", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"EMAIL", "ada@example.com", "Ada Lovelace", u.ID} {
		if !strings.Contains(list, s) {
			t.Errorf("list lacks %q:\n%s", s, list)
		}
	}
	if strings.Contains(list, "argon2") || strings.Contains(list, u.PasswordHash) {
		t.Errorf("list shows a password hash:\n%s", list)
	}

	_, _, err = runCmd(t, env, "another password\n", "users", "create", "--email", "ADA@example.com", "--password-stdin")
	if err == nil || !strings.Contains(err.Error(), `a user with email "ada@example.com" already exists`) {
		t.Errorf("duplicate email: %v", err)
	}
}

func TestUsersCreateCRLFAndEOF(t *testing.T) {
	env := testEnv(t)
	for i, in := range []string{"windows line\r\n", "no newline at all"} {
		email := []string{"a@example.com", "b@example.com"}[i]
		if _, _, err := runCmd(t, env, in, "users", "create", "--email", email, "--password-stdin"); err != nil {
			t.Fatalf("stdin %q: %v", in, err)
		}
		u, err := openTestStore(t, env).GetUserByEmail(context.Background(), email)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := password.NewHasher(password.Params{MemoryKiB: 7168, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32})
		if ok, _, _ := h.Verify(u.PasswordHash, strings.TrimRight(in, "\r\n")); !ok {
			t.Errorf("stdin %q: hash does not verify the password without its line ending", in)
		}
	}
}

func TestUsersCreateRejects(t *testing.T) {
	env := testEnv(t)
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no stdin flag", "password123\n", []string{"--email", "a@example.com"}, "--password-stdin: is required"},
		{"no email", "password123\n", []string{"--password-stdin"}, "--email: is required"},
		{"bad email", "password123\n", []string{"--email", "not-an-email", "--password-stdin"}, `--email: "not-an-email" is not an email address`},
		{"display name", "password123\n", []string{"--email", "Ada <ada@example.com>", "--password-stdin"}, "is not an email address"},
		{"empty stdin", "", []string{"--email", "a@example.com", "--password-stdin"}, "no password on standard input"},
		{"short", "short\n", []string{"--email", "a@example.com", "--password-stdin"}, "password shorter than 8 characters"},
		{"long", strings.Repeat("x", 1025) + "\n", []string{"--email", "a@example.com", "--password-stdin"}, "password longer than 1024 bytes"},
		{"endless", strings.Repeat("x", 1<<20), []string{"--email", "a@example.com", "--password-stdin"}, "password longer than 1024 bytes"},
		{"all at once", "", []string{"--email", "nope"}, "--password-stdin: is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCmd(t, env, tt.stdin, append([]string{"users", "create"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
	// 8 characters, counted as characters, not bytes.
	if _, _, err := runCmd(t, env, "パスワードです!!\n", "users", "create", "--email", "jp@example.com", "--password-stdin"); err != nil {
		t.Errorf("8-character non-ASCII password refused: %v", err)
	}
	if _, _, err := runCmd(t, env, "パスワード\n", "users", "create", "--email", "jp2@example.com", "--password-stdin"); err == nil {
		t.Error("5-character password of 15 bytes accepted")
	}
}

func TestUsersDeleteEndsSessionsAndTokens(t *testing.T) {
	env := testEnv(t)
	ctx := context.Background()
	out, _, err := runCmd(t, env, "password123\n", "users", "create", "--email", "bob@example.com", "--password-stdin")
	if err != nil {
		t.Fatal(err)
	}
	id := field(out, "user_id")
	if _, _, err := runCmd(t, env, "", "clients", "create", "--id", "app", "--name", "App", "--redirect-uri", "https://a.example.com/cb"); err != nil {
		t.Fatal(err)
	}
	st := openTestStore(t, env)
	now := time.Now()
	if err := st.CreateSession(ctx, storage.Session{ID: "s1", UserID: id, AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateToken(ctx, storage.Token{Kind: storage.KindRefreshToken, Signature: "sig", RequestID: "r", ClientID: "app",
		Subject: id, Active: true, RequestedAt: now, ExpiresAt: now.Add(time.Hour), Data: []byte("{}")}); err != nil {
		t.Fatal(err)
	}

	out, _, err = runCmd(t, env, "", "users", "delete", "--email", "BOB@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "ended 1 sessions, revoked 1 tokens") {
		t.Errorf("delete output: %q", out)
	}
	if _, err := st.GetUser(ctx, id); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("user still there: %v", err)
	}
	if _, err := st.GetSession(ctx, "s1", now); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("session still there: %v", err)
	}
	if tok, err := st.GetToken(ctx, storage.KindRefreshToken, "sig"); err != nil || tok.Active {
		t.Errorf("refresh token still active: %+v, %v", tok, err)
	}

	_, _, err = runCmd(t, env, "", "users", "delete", "--id", id)
	if err == nil || !strings.Contains(err.Error(), "no user with id "+strconv.Quote(id)) {
		t.Errorf("second delete: %v", err)
	}
	list, _, _ := runCmd(t, env, "", "users", "list")
	if strings.TrimSpace(list) != "no users" {
		t.Errorf("list after delete:\n%s", list)
	}
}
