// Package storagetest is the executable specification of storage.Store:
// every backend runs the same conformance suite with one call from its own
// test, in the manner of Dex's storage/conformance.
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store { ... })
//	}
//
// The suite pins down what the interface's comments promise and what they
// leave implicit:
//
//   - Times come back in UTC with microsecond precision (PostgreSQL's), and
//     the zero time comes back zero.
//   - Empty lists, maps and byte slices come back nil, whether stored as nil
//     or empty. Opaque documents (session factors, the MFA policy) come back
//     byte for byte.
//   - Missing records are storage.ErrNotFound, taken keys and used-up
//     single-use records storage.ErrConflict, both matched with errors.Is,
//     and no driver error type is anywhere in an error's chain.
//   - Sessions, login transactions, remembered browsers, WebAuthn
//     ceremonies, phone codes and push enrolment tokens whose ExpiresAt is
//     not after now are gone (a remembered browser cannot be touched
//     either); tokens are garbage once ExpiresAt is before now. Push
//     challenges stay readable after expiry but take no answer.
//   - Sessions, consents, TOTP credentials, recovery codes, remembered
//     browsers, passkeys, ceremonies, phones, phone codes, push devices,
//     enrolment tokens and challenges belong to their user (and consents
//     to their client, phone codes to a phone and push challenges to a
//     device of their user): creating one for a missing user or client is
//     ErrNotFound, deleting the user or client deletes them, and a method
//     given another user's id treats the record as missing. A ceremony may
//     have no user (discoverable sign-in).
//   - Passkey credential ids are raw bytes (zero bytes included, 1 to 1023
//     of them), unique across users, matched byte for byte, and in byte
//     order where they break a tie in a list.
//   - Every single-use rule (authorization code, refresh token, login
//     transaction, TOTP time step, recovery code, passkey sign counter,
//     ceremony, phone code and its resend, push enrolment token, push
//     answer) has exactly one winner among 20 concurrent callers, 20
//     concurrent failures count 20, and 20 concurrent code attempts, budget
//     charges or wrong push numbers stop exactly at the limit.
//     Budget charges of one call are all or nothing.
package storagetest

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/idp/storage"
)

// Run runs the conformance suite. newStore must return an empty, migrated
// store for the calling (sub)test and close it with t.Cleanup; every subtest
// gets its own, and subtests run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	groups := []struct {
		name  string
		tests []subtest
	}{
		{"Store", storeTests},
		{"Clients", clientTests},
		{"Users", userTests},
		{"SigningKeys", keyTests},
		{"Tokens", tokenTests},
		{"Sessions", sessionTests},
		{"LoginTxs", loginTxTests},
		{"Consents", consentTests},
		{"Throttles", throttleTests},
		{"Audit", auditTests},
		{"TOTP", totpTests},
		{"RecoveryCodes", recoveryCodeTests},
		{"RememberedBrowsers", browserTests},
		{"Policy", policyTests},
		{"Passkeys", passkeyTests},
		{"Ceremonies", ceremonyTests},
		{"Phones", phoneTests},
		{"PhoneCodes", phoneCodeTests},
		{"PhoneMessages", phoneMessageTests},
		{"Budgets", budgetTests},
		{"Push", pushTests},
		{"Concurrency", concurrencyTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, st := range g.tests {
				t.Run(st.name, func(t *testing.T) {
					t.Parallel()
					st.run(t, newStore(t))
				})
			}
		})
	}
}

type subtest struct {
	name string
	run  func(t *testing.T, s storage.Store)
}

var storeTests = []subtest{
	{"Ping", func(t *testing.T, s storage.Store) {
		if err := s.Ping(ctx(t)); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}},
}

// base is the suite's reference instant: UTC and microsecond-precise, so a
// record built from it must round-trip exactly.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

func ctx(t *testing.T) context.Context { return t.Context() }

// must fails the test on an unexpected error.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr checks that err matches sentinel with errors.Is and carries no
// driver error.
func wantErr(t *testing.T, what string, err, sentinel error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: err = %v, want %v", what, err, sentinel)
	}
	noDriverError(t, what, err)
}

// noDriverError walks err's whole chain: every error in it must come from
// the standard library or the storage package, and none may be
// database/sql's.
func noDriverError(t *testing.T, what string, err error) {
	t.Helper()
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, sql.ErrTxDone) || errors.Is(err, sql.ErrConnDone) {
		t.Errorf("%s: database/sql error escaped: %v", what, err)
	}
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		typ := reflect.TypeOf(e)
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		pkg := typ.PkgPath()
		first, _, _ := strings.Cut(pkg, "/")
		if pkg == "database/sql" || (strings.Contains(first, ".") && !strings.HasSuffix(pkg, "/idp/storage")) {
			t.Errorf("%s: error chain holds %s.%s: %v", what, pkg, typ.Name(), err)
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
}

// equal fails the test unless got and want are deeply equal.
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// sameTime fails unless got is want, in UTC.
func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("%s: got %v, want %v in UTC", what, got, want)
	}
}
