package mfa

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// TraceString renders the trace on one line for logs:
// "rule(factor): detail; rule: detail; ...". Facts carry no secrets and
// the engine copies none into the trace, so the line is safe to log;
// acr values the client sent are quoted and clipped.
func (d Decision) TraceString() string {
	var b strings.Builder
	for i, s := range d.Trace {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(s.Rule)
		if s.Factor != "" {
			b.WriteByte('(')
			b.WriteString(string(s.Factor))
			b.WriteByte(')')
		}
		if s.Detail != "" {
			b.WriteString(": ")
			b.WriteString(s.Detail)
		}
	}
	return b.String()
}

// step appends a trace line.
func (e *engine) step(rule string, f Factor, format string, args ...any) {
	detail := format
	if len(args) > 0 {
		detail = fmt.Sprintf(format, args...)
	}
	e.trace = append(e.trace, Step{Rule: rule, Factor: f, Detail: detail})
}

// maxQuoted bounds how much of a client-supplied string reaches the trace.
const maxQuoted = 64

// quote renders a string the client sent (an acr value, a client id):
// clipped, so a hostile request cannot flood the audit log, and quoted, so
// it cannot forge trace syntax.
func quote(s string) string {
	if len(s) > maxQuoted {
		cut := maxQuoted
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q...", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}

func levelName(l Level) string {
	if l == LevelNone {
		return "none"
	}
	return string(l)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func joinFactorNames(fs []Factor) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ",")
}

func riskNames(r Risk) string {
	var s []string
	if r.NewDevice {
		s = append(s, "new_device")
	}
	if r.NewNetwork {
		s = append(s, "new_network")
	}
	if r.Velocity {
		s = append(s, "velocity")
	}
	return strings.Join(s, ",")
}
