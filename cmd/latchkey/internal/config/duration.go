package config

import (
	"fmt"
	"strings"
	"time"
)

// Duration is a time.Duration written in TOML and in the environment as a
// Go duration string ("90s", "10m", "720h").
type Duration struct {
	time.Duration
}

// D returns a Duration of d; it keeps Default and tests short.
func D(d time.Duration) Duration { return Duration{d} }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(text)))
	if err != nil {
		return fmt.Errorf("parse duration %q: want a number with a unit, like \"90s\", \"10m\" or \"24h\"", text)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// String formats d without the zero units time.Duration prints
// ("24h", not "24h0m0s"), as a person would write it in the config.
func (d Duration) String() string {
	return formatDuration(d.Duration)
}

func formatDuration(d time.Duration) string {
	s := d.String()
	if d%time.Minute == 0 && d != 0 {
		s = strings.TrimSuffix(s, "0s")
		if d%time.Hour == 0 {
			s = strings.TrimSuffix(s, "0m")
		}
	}
	return s
}
