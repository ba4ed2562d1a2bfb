package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/federation/webhook"
)

// TestWebhookKeyRotation: only a system administrator rotates the webhook
// signing key; a bad grace or a hub without webhook settings is refused
// and changes nothing; a rotation changes every owner's callback secret,
// keeps the old key for the grace period (none with "0s"), shows no key
// and is audited without one.
func TestWebhookKeyRotation(t *testing.T) {
	e := newEnv(t)
	key := seedSmall(e)
	ctx := e.ctx()
	alice := e.client(key)
	if code, out := e.do("POST", "/v1/webhooks/rotate-key", e.c.AdminKey, []byte(`{}`)); code != http.StatusNotFound {
		t.Errorf("rotation before any webhook settings: %d %s, want 404", code, out)
	}
	if err := e.admin.SetWebhookAllowList(ctx, []string{"127.0.0.1/32"}); err != nil {
		t.Fatal(err)
	}
	before := value[*structs.WebhookSecret](t)(alice.CallbackSecret(ctx, "")).Secret
	settings := func() *structs.WebhookSettings {
		return value[*structs.WebhookSettings](t)(e.c.Hub(0).Store().Read().WebhookSettings())
	}
	oldKey := settings().SigningKey
	idx := e.index()
	for name, c := range map[string]struct {
		key, body string
		code      int
	}{
		"not an administrator": {key, `{}`, http.StatusForbidden},
		"bad grace":            {e.c.AdminKey, `{"grace":"a while"}`, http.StatusBadRequest},
		"negative grace":       {e.c.AdminKey, `{"grace":"-1h"}`, http.StatusBadRequest},
		"grace over 30 days":   {e.c.AdminKey, `{"grace":"721h"}`, http.StatusBadRequest},
		"unknown field":        {e.c.AdminKey, `{"key":"mine"}`, http.StatusBadRequest},
	} {
		if code, out := e.do("POST", "/v1/webhooks/rotate-key", c.key, []byte(c.body)); code != c.code {
			t.Errorf("%s: %d %s, want %d", name, code, out, c.code)
		}
	}
	if e.index() != idx || settings().SigningKey != oldKey {
		t.Error("a refused rotation changed the state")
	}

	got := value[*structs.WebhookKeyRotated](t)(e.admin.RotateWebhookKey(ctx, "2h"))
	s := settings()
	if got.PreviousUntil == nil || !got.PreviousUntil.Equal(got.Rotated.Add(7200e9)) || s.PreviousSigningKey != oldKey || s.SigningKey == oldKey ||
		s.PreviousKey(got.Rotated) != oldKey || s.PreviousKey(*got.PreviousUntil) != "" {
		t.Errorf("rotation %+v; stored previous until %v", got, s.PreviousUntil)
	}
	after := value[*structs.WebhookSecret](t)(alice.CallbackSecret(ctx, "")).Secret
	if after == before || after != webhook.OwnerSecret(s.SigningKey, "alice") {
		t.Error("alice's callback secret did not follow the new key")
	}
	// The allow-list written again keeps the grace period.
	if err := e.admin.SetWebhookAllowList(ctx, []string{"127.0.0.1/32", "hooks.example.com"}); err != nil {
		t.Fatal(err)
	}
	if s2 := settings(); s2.PreviousSigningKey != oldKey || s2.SigningKey != s.SigningKey {
		t.Error("writing the allow-list lost the rotation")
	}
	// No grace: the old key is gone at once.
	value[*structs.WebhookKeyRotated](t)(e.admin.RotateWebhookKey(ctx, "0s"))
	if s3 := settings(); s3.PreviousSigningKey != "" || s3.PreviousUntil != nil || s3.SigningKey == s.SigningKey {
		t.Errorf("rotation without grace kept %+v", s3)
	}
	events := value[[]*structs.AuditEvent](t)(e.admin.Audit(ctx, client.AuditQuery{}))
	n := 0
	for _, ev := range events {
		b, _ := json.Marshal(ev)
		if strings.Contains(string(b), oldKey) || strings.Contains(string(b), s.SigningKey) {
			t.Errorf("audit event carries a key: %s", b)
		}
		if ev.Action == "webhooks.rotate-key" && ev.Outcome == "ok" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d successful rotations audited, want 2", n)
	}
}
