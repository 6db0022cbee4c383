// Command latchkey is the Latchkey identity provider: one binary with a
// subcommand per task (serve, dev, migrate, clients, users, keys, version).
// It is the only composition root: it reads the configuration, opens the
// store and hands each part exactly what it uses.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/latchkey/latchkey/cmd/latchkey/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr}, os.Getenv)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "latchkey: %v\n", err)
		if errors.As(err, new(usageError)) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// stdio is a command's standard streams; tests pass buffers.
type stdio struct {
	in  io.Reader
	out io.Writer
	err io.Writer
}

// command is one subcommand: a one-line help and the function that runs it
// with the arguments after its name.
type command struct {
	help string
	run  func(ctx context.Context, args []string, sio stdio, getenv func(string) string) error
}

// commands is the subcommand table; adding a subcommand is one line here
// and a cmd_<name>.go file.
func commands() map[string]command {
	return map[string]command{
		"serve":    {"run the identity provider (production)", cmdServe},
		"dev":      {"run with the embedded store, a demo user and a demo app at /demo", cmdDev},
		"keys":     {"manage signing keys (rotate, list)", cmdKeys},
		"consents": {"list or revoke what users allowed third-party clients", cmdConsents},
		"policy":   {"show or store the MFA policy shared by every node", cmdPolicy},
		"migrate":  {"apply pending database migrations and print the schema version", cmdMigrate},
		"clients":  {"manage OAuth clients (create, list, delete)", cmdClients},
		"users":    {"manage users (create, list, delete)", cmdUsers},
		"version":  {"print the version, VCS revision and Go version", cmdVersion},
	}
}

// run dispatches args[0] to its subcommand.
func run(ctx context.Context, args []string, sio stdio, getenv func(string) string) error {
	cmds := commands()
	if len(args) == 0 {
		usage(sio.err, cmds)
		return usageError{errors.New("no command given")}
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c, ok := cmds[args[1]]; ok {
				// Each command prints its own flags for -h.
				return c.run(ctx, []string{"-h"}, sio, getenv)
			}
		}
		usage(sio.out, cmds)
		return nil
	}
	c, ok := cmds[name]
	if !ok {
		usage(sio.err, cmds)
		return usageError{fmt.Errorf("unknown command %q", name)}
	}
	return c.run(ctx, args[1:], sio, getenv)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprint(w, "Usage: latchkey <command> [flags]\n\nCommands:\n")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].help)
	}
	fmt.Fprint(w, "\nEvery command accepts --config FILE (default: ./latchkey.toml if it exists).\n"+
		"Settings can also come from LATCHKEY_* environment variables; see config.example.toml.\n"+
		"Run 'latchkey help <command>' or 'latchkey <command> -h' for its flags.\n")
}

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// defaultConfigFile is read when --config is not given and it exists.
const defaultConfigFile = "latchkey.toml"

// newFlagSet returns a flag set for a subcommand with the flags every
// subcommand has; the returned string holds --config after Parse.
func newFlagSet(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports through its error; -h prints explicitly
	path := fs.String("config", "", "configuration `file` (default ./"+defaultConfigFile+" if it exists)")
	return fs, path
}

// parseFlags parses args into fs. For -h it prints the flags to out and
// returns flag.ErrHelp; positional arguments are refused.
func parseFlags(fs *flag.FlagSet, args []string, out io.Writer) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(out, "Usage: latchkey %s [flags]\n\nFlags:\n", fs.Name())
		fs.SetOutput(out)
		fs.PrintDefaults()
		return flag.ErrHelp
	}
	if err != nil {
		return usageError{fmt.Errorf("%s: %w (see 'latchkey %s -h')", fs.Name(), err, fs.Name())}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q (see 'latchkey %s -h')", fs.Name(), fs.Arg(0), fs.Name())}
	}
	return nil
}

// helpOK turns the flag.ErrHelp of a -h into success.
func helpOK(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// loadConfig loads the configuration from path (./latchkey.toml when path
// is empty and that file exists; otherwise defaults and environment only)
// and checks it for mode.
func loadConfig(path string, getenv func(string) string, mode config.Mode) (config.Config, error) {
	if path == "" {
		if _, err := os.Stat(defaultConfigFile); err == nil {
			path = defaultConfigFile
		}
	}
	cfg, err := config.Load(path, getenv)
	if err != nil {
		return config.Config{}, err
	}
	if err := cfg.Validate(mode); err != nil {
		return config.Config{}, fmt.Errorf("invalid configuration for %s:\n%w", mode, err)
	}
	return cfg, nil
}

// newLogger builds the process logger from the [log] section. The
// configuration is validated, so an unknown level or format cannot reach
// here; they fall back to info and JSON all the same.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(cfg.Log.Format, "text") {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
