package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
)

// version may be set at link time (-ldflags "-X main.version=v1.2.3") for
// builds without module or VCS information, such as a Docker build whose
// context has no .git.
var version = ""

// cmdVersion is `latchkey version`.
func cmdVersion(_ context.Context, args []string, sio stdio, _ func(string) string) error {
	fs, _ := newFlagSet("version")
	if err := parseFlags(fs, args, sio.out); err != nil {
		return helpOK(err)
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Errorf("version: no build information in this binary")
	}
	printVersion(sio.out, info, version)
	return nil
}

func printVersion(w io.Writer, info *debug.BuildInfo, linked string) {
	v := info.Main.Version
	if linked != "" {
		v = linked
	}
	if v == "" {
		v = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	rev := settings["vcs.revision"]
	if rev == "" {
		rev = "unknown"
	} else if settings["vcs.modified"] == "true" {
		rev += " (modified)"
	}
	fmt.Fprintf(w, "latchkey %s\n", v)
	fmt.Fprintf(w, "revision: %s\n", rev)
	if t := settings["vcs.time"]; t != "" {
		fmt.Fprintf(w, "committed: %s\n", t)
	}
	fmt.Fprintf(w, "go: %s\n", info.GoVersion)
	if p := settings["GOOS"] + "/" + settings["GOARCH"]; p != "/" {
		fmt.Fprintf(w, "platform: %s\n", p)
	}
}
