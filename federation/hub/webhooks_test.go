package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/federation/webhook"
)

// receiver is a webhook receiver that fails until told to succeed.
type receiver struct {
	mu    sync.Mutex
	calls map[string][]time.Time // delivery id → attempt times
	good  []struct {
		sig  string
		body []byte
	}
	ok atomic.Bool
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := r.Header.Get(structs.SignatureHeader)
	var call webhook.Call
	_ = jsonUnmarshal(body, &call)
	rc.mu.Lock()
	rc.calls[call.Delivery] = append(rc.calls[call.Delivery], time.Now())
	if rc.ok.Load() {
		rc.good = append(rc.good, struct {
			sig  string
			body []byte
		}{id, body})
	}
	rc.mu.Unlock()
	if !rc.ok.Load() {
		http.Error(w, "down", http.StatusInternalServerError)
	}
}

// TestWebhookSafety: callbacks to link-local, metadata, unlisted or
// loopback-by-name addresses are refused at submit and a name that
// resolves to loopback is refused again at dial time; a failing receiver
// is retried with growing waits and ends in the dead-letter list, from
// which an administrator retries (delivered, signed) or drops; a forged
// or replayed signature fails verification.
func TestWebhookSafety(t *testing.T) {
	const attempts = 3
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true, Configure: func(_ int, cfg *hub.Config) {
		cfg.Webhooks = hub.WebhookOptions{Backoff: 100 * time.Millisecond, MaxBackoff: time.Second, MaxAttempts: attempts, Poll: 20 * time.Millisecond}
	}})
	f := seed(t, c)
	ctx := ctxFor(t, 60*time.Second)
	rc := &receiver{calls: map[string][]time.Time{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	admin := newClient(t, c, c.AdminKey)
	alice := newClient(t, c, f.Key)

	// No allow-list yet: nothing may be called.
	job := f.job("cb-0")
	job.CallbackURL = srv.URL + "/hook"
	if _, err := alice.SubmitJob(ctx, job); client.StatusOf(err) != http.StatusBadRequest {
		t.Fatalf("callback without an allow-list: %v, want 400", err)
	}
	if err := admin.SetWebhookAllowList(ctx, []string{"127.0.0.1/32", "localhost", "hooks.example.com", "169.254.0.0/16"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"http://169.254.169.254/latest/meta-data/", // metadata, even though an entry names its range
		"http://[fe80::1]/x",                       // link-local
		"http://10.9.8.7/x",                        // not on the list
		"http://127.0.0.2:1/x",                     // loopback outside the listed CIDR
		"ftp://127.0.0.1/x",                        // not http
		"http://user:pw@127.0.0.1/x",               // credentials
	} {
		j := f.job("cb-bad")
		j.CallbackURL = bad
		_, err := alice.SubmitJob(ctx, j)
		if client.StatusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "refused") {
			t.Errorf("callback %s: %v, want 400 refused", bad, err)
		}
	}
	if _, err := alice.GetJob(ctx, "cb-bad", true); client.StatusOf(err) != http.StatusNotFound {
		t.Errorf("a refused submission left a job: %v", err)
	}

	// Dial time: a name the list allows that resolves to loopback.
	allow, _ := webhook.ParseAllowList([]string{"localhost"})
	sender := webhook.NewSender(func() webhook.AllowList { return allow }, time.Second, time.Now)
	d := &structs.WebhookDelivery{ID: "x", URL: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)}
	if err := sender.Send(ctx, d, []byte("secret")); !webhook.IsRefused(err) {
		t.Errorf("dial to loopback through an allowed name: %v, want refused", err)
	}

	// A failing receiver: retried with backoff, then dead letters.
	if _, err := alice.SubmitJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.CancelJob(ctx, job.ID, "test"); err != nil {
		t.Fatal(err)
	}
	var dead []*structs.WebhookDelivery
	waitUntil(t, ctx, "two dead letters", func() bool {
		var err error
		dead, err = admin.ListDeliveries(ctx, structs.DeliveryDead)
		return err == nil && len(dead) == 2
	})
	rc.mu.Lock()
	for _, dl := range dead {
		times := rc.calls[dl.ID]
		if len(times) != attempts || dl.Attempts != attempts || dl.LastError == "" {
			t.Errorf("dead letter %s: %d calls, %d attempts recorded (%q), want %d", dl.ID, len(times), dl.Attempts, dl.LastError, attempts)
			continue
		}
		// Attempt n+1 comes at least Backoff(n) after attempt n's call
		// arrived (the wait starts when its failure is recorded, later
		// still): 100 ms, then 200 ms. A loaded machine only lengthens a
		// wait, so each is checked against its own floor rather than
		// against the one before, which a late poll may have stretched.
		for i := 1; i < len(times); i++ {
			gap, floor := times[i].Sub(times[i-1]), webhook.Backoff(i, 100*time.Millisecond, time.Second)
			if gap < floor {
				t.Errorf("dead letter %s: wait %d was %v, want at least %v (a doubling backoff)", dl.ID, i, gap, floor)
			}
		}
	}
	rc.mu.Unlock()
	if _, err := alice.ListDeliveries(ctx, structs.DeliveryDead); client.StatusOf(err) != http.StatusForbidden {
		t.Errorf("a user lists dead letters: %v", err)
	}

	// The receiver recovers: retry one dead letter, drop the other.
	rc.ok.Store(true)
	if _, err := admin.RetryDelivery(ctx, dead[1].ID); err != nil {
		t.Fatal(err)
	}
	if err := admin.DropDelivery(ctx, dead[0].ID); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ctx, "the retried delivery", func() bool {
		rest, err := admin.ListDeliveries(ctx, structs.DeliveryPending)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return err == nil && len(rest) == 0 && len(rc.good) == 1
	})
	if left, _ := admin.ListDeliveries(ctx, structs.DeliveryDead); len(left) != 0 {
		t.Errorf("dead letters left: %d", len(left))
	}

	// Signatures: the owner's secret verifies; forged or replayed fail.
	sec, err := alice.CallbackSecret(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	good := rc.good[0]
	now := time.Now()
	if err := client.VerifyWebhook([]byte(sec.Secret), good.sig, good.body, now, 0); err != nil {
		t.Fatalf("the hub's call does not verify: %v", err)
	}
	forged := strings.Replace(string(good.body), string(structs.JobCanceled), string(structs.JobCompleted), 1)
	tests := map[string]struct {
		secret, sig string
		body        []byte
		now         time.Time
		want        error
	}{
		"forged body":      {sec.Secret, good.sig, []byte(forged), now, webhook.ErrBadSignature},
		"wrong secret":     {"not-the-secret", good.sig, good.body, now, webhook.ErrBadSignature},
		"replayed later":   {sec.Secret, good.sig, good.body, now.Add(10 * time.Minute), webhook.ErrStale},
		"no signature":     {sec.Secret, "", good.body, now, webhook.ErrNoSignature},
		"re-signed, stale": {sec.Secret, webhook.Sign([]byte(sec.Secret), now.Add(-time.Hour), good.body), good.body, now, webhook.ErrStale},
	}
	for name, tc := range tests {
		if err := webhook.Verify([]byte(tc.secret), tc.sig, tc.body, tc.now, 5*time.Minute); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

// waitUntil polls cond until it holds or ctx ends.
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
