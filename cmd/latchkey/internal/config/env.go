package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// envPrefix starts every environment variable Latchkey reads.
const envPrefix = "LATCHKEY_"

// setting is one configuration key: its TOML path, its environment
// variable and the field it lives in.
type setting struct {
	path  string // "tokens.access_token_lifetime"
	env   string // "LATCHKEY_TOKENS_ACCESS_TOKEN_LIFETIME"
	field reflect.Value
}

// settings walks cfg's toml tags, so that a new key gets its environment
// variable without a second list to keep in step.
func settings(cfg *Config) []setting {
	var out []setting
	var walk func(v reflect.Value, path []string)
	walk = func(v reflect.Value, path []string) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("toml")
			if tag == "" || tag == "-" {
				continue
			}
			p := append(path[:len(path):len(path)], tag)
			fv := v.Field(i)
			// A struct is a section, unless it decodes from text
			// itself (Duration).
			if fv.Kind() == reflect.Struct && !isText(fv) {
				walk(fv, p)
				continue
			}
			out = append(out, setting{
				path:  strings.Join(p, "."),
				env:   envPrefix + strings.ToUpper(strings.Join(p, "_")),
				field: fv,
			})
		}
	}
	walk(reflect.ValueOf(cfg).Elem(), nil)
	return out
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

func isText(v reflect.Value) bool {
	return v.CanAddr() && v.Addr().Type().Implements(textUnmarshaler)
}

// applyEnv overrides cfg with every LATCHKEY_* variable that getenv
// returns non-empty, and reports each one that does not parse.
func applyEnv(cfg *Config, getenv func(string) string) []error {
	if getenv == nil {
		return nil
	}
	var errs []error
	for _, s := range settings(cfg) {
		raw := getenv(s.env)
		if raw == "" {
			continue
		}
		if err := setFromString(s.field, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s (from %s): %w", s.path, s.env, err))
		}
	}
	return errs
}

func setFromString(v reflect.Value, raw string) error {
	if isText(v) {
		return v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(raw))
	}
	raw = strings.TrimSpace(raw)
	switch v.Kind() {
	case reflect.String:
		v.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", raw)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("want an integer, got %q", raw)
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return fmt.Errorf("want a number, got %q", raw)
		}
		v.SetFloat(f)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported list type %s", v.Type())
		}
		var items []string
		for item := range strings.SplitSeq(raw, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items))
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String || v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported table type %s", v.Type())
		}
		m, err := parsePairs(raw)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(m))
	default:
		// Only reachable if a field of a new type is added to Config;
		// TestEveryKeyHasAnEnvironmentVariable catches that.
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

// parsePairs reads a table of strings written "k1=v1, k2=v2". A key is
// split from its value at the last "=", so keys may hold one (the values
// this is used for, level names and URNs, never do).
func parsePairs(raw string) (map[string]string, error) {
	m := map[string]string{}
	for item := range strings.SplitSeq(raw, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		i := strings.LastIndex(item, "=")
		if i < 0 {
			return nil, fmt.Errorf("want key=value pairs separated by commas, got %q", item)
		}
		k, val := strings.TrimSpace(item[:i]), strings.TrimSpace(item[i+1:])
		if k == "" {
			return nil, fmt.Errorf("empty key in %q", item)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%q is set twice", k)
		}
		m[k] = val
	}
	return m, nil
}
