package api_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/api"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// stoppedClock is a clock that moves only when told: rate-limit buckets
// then refill exactly as the test says.
type stoppedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stoppedClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stoppedClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// limitedEnv is a one-replica hub with tight limits and a stopped clock.
func limitedEnv(t *testing.T, l api.Limits) (*env, *stoppedClock) {
	t.Helper()
	clock := &stoppedClock{t: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true, Configure: func(_ int, cfg *hub.Config) {
		cfg.Limits = &l
		cfg.Now = clock.now
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, c: c, url: c.URL(0), keys: map[string]string{"global": c.AdminKey}}
	e.admin = e.client(c.AdminKey)
	return e, clock
}

// TestRateLimit: a caller that bursts past its limit gets 429 with a
// Retry-After, others from the same address are unaffected, the budget
// refills with time; an address that fails to log in too often is turned
// away before its credentials cost anything, and the Go client waits as
// Retry-After says.
func TestRateLimit(t *testing.T) {
	e, clock := limitedEnv(t, api.Limits{PerIdentity: 1, PerIdentityBurst: 5, PerAddress: 1000, PerAddressBurst: 1000,
		FailedLoginsPerMinute: 3})
	ctx := e.ctx()
	e.must(e.admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}))
	for _, u := range []string{"alice", "bob"} {
		e.must(e.admin.PutUser(ctx, u, &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser}))
		e.keys[u] = value[*structs.APIKeyCreated](t)(e.admin.CreateAPIKey(ctx, u, "rl")).Key
	}
	clock.add(time.Minute) // the administrator's burst above is spent; start full

	for i := range 5 {
		if code, body := e.do(http.MethodGet, "/v1/whoami", e.keys["alice"], nil); code != http.StatusOK {
			t.Fatalf("alice's request %d within her burst: %d %s", i, code, body)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, e.url+"/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+e.keys["alice"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("alice past her burst: %d, want 429", resp.StatusCode)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After %q, want whole seconds ≥ 1", resp.Header.Get("Retry-After"))
	}
	if code, _ := e.do(http.MethodGet, "/v1/whoami", e.keys["bob"], nil); code != http.StatusOK {
		t.Errorf("bob was limited with alice: %d", code)
	}
	// A client with a short budget gives up with the 429.
	short, err := client.New([]string{e.url}, e.keys["alice"], client.WithRetryTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := short.WhoAmI(ctx); !errors.Is(err, structs.ErrRateLimited) {
		t.Errorf("client past the limit: %v, want ErrRateLimited", err)
	}
	clock.add(2 * time.Second)
	if code, _ := e.do(http.MethodGet, "/v1/whoami", e.keys["alice"], nil); code != http.StatusOK {
		t.Errorf("alice after her budget refilled: %d", code)
	}

	// Failed logins: three wrong keys are 401s, then the address is told
	// to wait, even with a good key, until the budget refills.
	for i := range 3 {
		if code, _ := e.do(http.MethodGet, "/v1/whoami", "flk_0123456789abcdef_wrong", nil); code != http.StatusUnauthorized {
			t.Fatalf("wrong key %d: %d, want 401", i, code)
		}
	}
	if code, _ := e.do(http.MethodGet, "/v1/whoami", e.keys["bob"], nil); code != http.StatusTooManyRequests {
		t.Errorf("after 3 failed logins: %d, want 429", code)
	}
	clock.add(time.Minute)
	if code, _ := e.do(http.MethodGet, "/v1/whoami", e.keys["bob"], nil); code != http.StatusOK {
		t.Errorf("a minute later: %d, want 200", code)
	}
}
