package hub_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
)

// TestWebhookKeyRotationSignsTwice: after the signing key is rotated with
// a grace period, the leader's callbacks carry the new and the old
// owner secret's signatures, so a receiver still holding the old secret
// and one holding the new both accept them; a rotation without grace
// leaves only the new signature, which the old secret no longer verifies.
func TestWebhookKeyRotationSignsTwice(t *testing.T) {
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true, Configure: func(_ int, cfg *hub.Config) {
		cfg.Webhooks = hub.WebhookOptions{Backoff: 100 * time.Millisecond, MaxBackoff: time.Second, MaxAttempts: 3, Poll: 20 * time.Millisecond}
	}})
	f := seed(t, c)
	ctx := ctxFor(t, 60*time.Second)
	rc := &receiver{calls: map[string][]time.Time{}}
	rc.ok.Store(true)
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	admin := newClient(t, c, c.AdminKey)
	alice := newClient(t, c, f.Key)
	if err := admin.SetWebhookAllowList(ctx, []string{"127.0.0.1/32"}); err != nil {
		t.Fatal(err)
	}
	call := func(id string) (sig string, body []byte) {
		t.Helper()
		rc.mu.Lock()
		n := len(rc.good)
		rc.mu.Unlock()
		j := f.job(id)
		j.CallbackURL = srv.URL + "/hook"
		if _, err := alice.SubmitJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.CancelJob(ctx, j.ID, "test"); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, ctx, "the callback of "+id, func() bool {
			rc.mu.Lock()
			defer rc.mu.Unlock()
			return len(rc.good) > n
		})
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return rc.good[len(rc.good)-1].sig, rc.good[len(rc.good)-1].body
	}
	secret := func() []byte {
		s, err := alice.CallbackSecret(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		return []byte(s.Secret)
	}
	oldSecret := secret()
	if sig, _ := call("before"); strings.Count(sig, ",v1=") != 1 {
		t.Errorf("before any rotation: %q, want one signature", sig)
	}
	if _, err := admin.RotateWebhookKey(ctx, "1h"); err != nil {
		t.Fatal(err)
	}
	newSecret := secret()
	sig, body := call("grace")
	if strings.Count(sig, ",v1=") != 2 {
		t.Errorf("in the grace period: %q, want two signatures", sig)
	}
	for name, s := range map[string][]byte{"old": oldSecret, "new": newSecret} {
		if err := client.VerifyWebhook(s, sig, body, time.Now(), 0); err != nil {
			t.Errorf("in the grace period, the %s secret: %v", name, err)
		}
	}
	if _, err := admin.RotateWebhookKey(ctx, "0s"); err != nil {
		t.Fatal(err)
	}
	newest := secret()
	sig, body = call("after")
	if strings.Count(sig, ",v1=") != 1 || client.VerifyWebhook(newest, sig, body, time.Now(), 0) != nil ||
		client.VerifyWebhook(newSecret, sig, body, time.Now(), 0) == nil {
		t.Errorf("after a rotation without grace: %q, want the newest secret's signature only", sig)
	}
}
