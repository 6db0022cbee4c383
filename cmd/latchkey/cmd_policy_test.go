package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPolicyShowAndSet(t *testing.T) {
	env := testEnv(t)
	out, _, err := runCmd(t, env, "", "policy", "show")
	if err != nil || !strings.Contains(out, "nothing stored") || !strings.Contains(out, `"max_attempts": 5`) {
		t.Fatalf("policy show before set: %v\n%s", err, out)
	}

	doc := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(doc, []byte(`{"limits": {"max_attempts": 3, "hourly_budget": 20, "lock_after": 10,
		"lock_window": "1h", "lock_base": "5m", "lock_max": "24h"}, "client_levels": {"payroll": "urn:latchkey:acr:mfa"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runCmd(t, env, "", "policy", "set", "--file", doc); err != nil || !strings.Contains(out, "policy stored") {
		t.Fatalf("policy set: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, env, "", "policy", "show")
	if err != nil || !strings.Contains(out, "source: stored") || !strings.Contains(out, `"max_attempts": 3`) ||
		!strings.Contains(out, `"payroll": "urn:latchkey:acr:mfa"`) || !strings.Contains(out, `"enrol_at_sign_in": true`) {
		t.Fatalf("policy show after set: %v\n%s", err, out)
	}

	// From standard input; {} stores no field, so the config's values apply.
	if _, _, err := runCmd(t, env, "{}", "policy", "set", "--file", "-"); err != nil {
		t.Fatalf("policy set {} from stdin: %v", err)
	}
	if out, _, _ := runCmd(t, env, "", "policy", "show"); !strings.Contains(out, `"max_attempts": 5`) {
		t.Errorf("after storing {}: %s", out)
	}
}

func TestPolicySetRefuses(t *testing.T) {
	env := testEnv(t)
	for name, body := range map[string]string{
		"unknown field":  `{"max_atempts": 3}`,
		"invalid policy": `{"limits": {"max_attempts": 0, "hourly_budget": 20, "lock_after": 10, "lock_window": "1h", "lock_base": "5m", "lock_max": "24h"}}`,
		"unknown factor": `{"order": ["fax"]}`,
		"not JSON":       `order = ["totp"]`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := runCmd(t, env, body, "policy", "set", "--file", "-"); err == nil {
				t.Errorf("policy set accepted %s", body)
			}
		})
	}
	if out, _, _ := runCmd(t, env, "", "policy", "show"); !strings.Contains(out, "nothing stored") {
		t.Errorf("a refused document was stored:\n%s", out)
	}
	if _, _, err := runCmd(t, env, "", "policy", "set"); err == nil {
		t.Error("policy set without --file succeeded")
	}
}
