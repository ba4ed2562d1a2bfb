package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestServiceCommands: an administrator makes a service account from a
// file and rotates its keys; the account's key authenticates; events list
// the changes after an index; a vault export without a namespace is a
// usage error that sends nothing.
func TestServiceCommands(t *testing.T) {
	c, url := testHub(t)
	admin := map[string]string{EnvAPIKey: c.AdminKey, EnvHub: url}
	run := func(env map[string]string, args ...string) result { return runCLI(t, env, args...) }
	run(admin, "admin", "tenants", "add", "acme").check(t, ExitOK)
	saFile := writeFile(t, "sa.yaml", `
- name: trainer
  scope:
    apps: [{app: trainer, commands: [train]}]
    machine_types: [l1]
    max_nodes: 1
    rate_per_minute: 5
`)
	run(admin, "admin", "service-accounts", "apply", "--tenant", "acme", saFile).check(t, ExitOK, "service account sa:acme/trainer saved")
	run(admin, "admin", "service-accounts", "list", "--tenant", "acme").check(t, ExitOK, "sa:acme/trainer", "trainer:train", "l1")
	var keys []structs.APIKeyCreated
	for range 2 {
		r := run(admin, "-o", "json", "admin", "service-accounts", "key", "create", "--tenant", "acme", "trainer")
		r.check(t, ExitOK)
		var k structs.APIKeyCreated
		if err := json.Unmarshal([]byte(r.stdout), &k); err != nil || !strings.HasPrefix(k.Key, "fsa_") {
			t.Fatalf("key create: %v %q", err, r.stdout)
		}
		keys = append(keys, k)
	}
	// Both keys work; revoking the old one leaves the new one.
	for _, k := range keys {
		run(map[string]string{EnvAPIKey: k.Key, EnvHub: url}, "whoami").check(t, ExitOK, "sa:acme/trainer")
	}
	run(admin, "admin", "service-accounts", "key", "revoke", "--tenant", "acme", "trainer", keys[0].ID).check(t, ExitOK)
	if r := run(map[string]string{EnvAPIKey: keys[0].Key, EnvHub: url}, "whoami"); r.code == ExitOK {
		t.Errorf("a revoked key still works: %s", r.stdout)
	}
	run(map[string]string{EnvAPIKey: keys[1].Key, EnvHub: url}, "whoami").check(t, ExitOK, "sa:acme/trainer")

	run(admin, "events", "--since", "0").check(t, ExitOK)
	if r := run(admin, "admin", "vaults", "export", "data"); r.code != ExitUsage || !strings.Contains(r.stderr, "--namespace") {
		t.Errorf("export without a namespace: %d %q", r.code, r.stderr)
	}
	run(admin, "admin", "webhooks", "allow", "127.0.0.1/32", "hooks.example.com").check(t, ExitOK, "hooks.example.com")
	run(admin, "admin", "webhooks", "dead-letters", "list").check(t, ExitOK, "ID")
	run(admin, "admin", "webhooks", "subscribe", "--tenant", "acme", "--url", "http://127.0.0.1:9/x", "--states", "COMPLETED", "done").
		check(t, ExitOK, "shown once", "whsec_")
	run(admin, "admin", "webhooks", "subscriptions").check(t, ExitOK, "done", "COMPLETED")
	if r := run(admin, "admin", "webhooks", "subscribe", "--url", "http://169.254.169.254/", "meta"); r.code == ExitOK {
		t.Errorf("a subscription to the metadata address was accepted")
	}
	run(admin, "admin", "webhooks", "unsubscribe", "done").check(t, ExitOK)
}
