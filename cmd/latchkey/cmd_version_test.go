package main

import (
	"bytes"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionCommand(t *testing.T) {
	out, _, err := runCmd(t, nil, "", "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "latchkey ") || !strings.Contains(out, "go: "+runtime.Version()) {
		t.Errorf("version output:\n%s", out)
	}
}

func TestPrintVersion(t *testing.T) {
	info := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/latchkey/latchkey", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123abcd"},
			{Key: "vcs.time", Value: "2025-06-01T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
			{Key: "GOOS", Value: "linux"},
			{Key: "GOARCH", Value: "amd64"},
		},
	}
	var buf bytes.Buffer
	printVersion(&buf, info, "")
	want := "latchkey v1.2.3\nrevision: 0123abcd (modified)\ncommitted: 2025-06-01T10:00:00Z\ngo: go1.26.0\nplatform: linux/amd64\n"
	if buf.String() != want {
		t.Errorf("printVersion =\n%s\nwant\n%s", buf.String(), want)
	}
	buf.Reset()
	printVersion(&buf, &debug.BuildInfo{GoVersion: "go1.26.0"}, "v9.9.9")
	if want := "latchkey v9.9.9\nrevision: unknown\ngo: go1.26.0\n"; buf.String() != want {
		t.Errorf("printVersion with a linked version =\n%s\nwant\n%s", buf.String(), want)
	}
}
