package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/migrations"
)

func TestMigrateFreshThenUpToDate(t *testing.T) {
	env := testEnv(t)
	out, _, err := runCmd(t, env, "", "migrate")
	if err != nil {
		t.Fatal(err)
	}
	known, err := migrations.List(migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	last := known[len(known)-1]
	for _, m := range known {
		if !strings.Contains(out, fmt.Sprintf("applied %04d_%s", m.Version, m.Name)) {
			t.Errorf("first migrate does not report %04d_%s:\n%s", m.Version, m.Name, out)
		}
	}
	if !strings.Contains(out, fmt.Sprintf("schema at version %d", last.Version)) {
		t.Errorf("first migrate output:\n%s", out)
	}
	out, _, err = runCmd(t, env, "", "migrate")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "applied ") || !strings.Contains(out, fmt.Sprintf("schema up to date at version %d", last.Version)) {
		t.Errorf("second migrate output:\n%s", out)
	}
}

func TestPrintMigrations(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	before := []migrations.Status{{Version: 1, Name: "init", AppliedAt: at}, {Version: 2, Name: "mfa"}}
	after := []migrations.Status{{Version: 1, Name: "init", AppliedAt: at}, {Version: 2, Name: "mfa", AppliedAt: at}, {Version: 3, Name: "future"}}
	var buf bytes.Buffer
	printMigrations(&buf, before, after)
	want := "applied 0002_mfa\npending 0003_future\nschema at version 2 (1 applied now)\n"
	if buf.String() != want {
		t.Errorf("printMigrations =\n%s\nwant\n%s", buf.String(), want)
	}
}
