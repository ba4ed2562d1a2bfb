package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// replicated is a 3-replica hub with one client per replica that stays on
// it (followers forward writes to the leader), all as the administrator.
type replicated struct {
	c       *hubtest.Cluster
	ctx     context.Context
	clients []*client.Client
}

func newReplicated(t *testing.T) *replicated {
	t.Helper()
	c := hubtest.New(t, 3, hubtest.Options{NoSync: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	if _, err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	r := &replicated{c: c, ctx: ctx}
	for i := range c.N() {
		r.clients = append(r.clients, r.client(t, i, c.AdminKey))
	}
	return r
}

// client talks to replica i only, with key ("" for none).
func (r *replicated) client(t *testing.T, i int, key string) *client.Client {
	t.Helper()
	cl, err := client.New([]string{r.c.URL(i)}, key, client.WithoutLeaderPreference(),
		client.WithRetryTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.CloseIdleConnections)
	return cl
}

// race runs f(0..n-1) concurrently, all released at once, and waits.
func race(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}

// TestConcurrentAPIKeyCreation: keys created at once for one user, through
// every replica, are all kept (each is a read-modify-write of the user),
// and every one authenticates.
func TestConcurrentAPIKeyCreation(t *testing.T) {
	r := newReplicated(t)
	admin := r.clients[0]
	if _, err := admin.PutTenant(r.ctx, &structs.Tenant{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.PutUser(r.ctx, "ann", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser}); err != nil {
		t.Fatal(err)
	}
	const n = 20
	created := make([]*structs.APIKeyCreated, n)
	errs := make([]error, n)
	race(n, func(i int) {
		created[i], errs[i] = r.clients[i%len(r.clients)].CreateAPIKey(r.ctx, "ann", fmt.Sprintf("key-%02d", i))
	})
	var want []string
	for i, err := range errs {
		if err != nil {
			t.Fatalf("creation %d: %v", i, err)
		}
		want = append(want, created[i].ID)
	}
	slices.Sort(want)
	if len(slices.Compact(slices.Clone(want))) != n {
		t.Fatalf("key ids not distinct: %v", want)
	}
	infos, err := admin.ListAPIKeys(r.ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range infos {
		got = append(got, k.ID)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("stored keys %v\nwant the %d created %v", got, n, want)
	}
	for i, k := range created {
		who, err := r.client(t, i%r.c.N(), k.Key).WhoAmI(r.ctx)
		if err != nil || who.Username != "ann" {
			t.Errorf("key %d (%s): %+v, %v", i, k.ID, who, err)
		}
	}

	// Revoking at once is just as safe: half the keys go, the rest stay.
	race(n/2, func(i int) {
		errs[i] = r.clients[i%len(r.clients)].RevokeAPIKey(r.ctx, "ann", created[i].ID)
	})
	for i, err := range errs[:n/2] {
		if err != nil {
			t.Errorf("revoke %d: %v", i, err)
		}
	}
	infos, err = admin.ListAPIKeys(r.ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != n-n/2 {
		t.Errorf("%d keys left after revoking %d of %d", len(infos), n/2, n)
	}
	for _, k := range infos {
		if i := slices.IndexFunc(created, func(c *structs.APIKeyCreated) bool { return c.ID == k.ID }); i < n/2 {
			t.Errorf("revoked key %s (%d) is still stored", k.ID, i)
		}
	}
}

// TestBootstrapTokenRace: agents racing to register with one bootstrap
// token through every replica: exactly one gets an agent key, the others
// get 401 as for a used token.
func TestBootstrapTokenRace(t *testing.T) {
	r := newReplicated(t)
	admin := r.clients[0]
	if _, err := admin.PutCluster(r.ctx, "east", &structs.ClusterSpec{Zone: "z1"}); err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateBootstrapToken(r.ctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	// Re-registering the cluster (new labels) keeps the pending token.
	if _, err := admin.PutCluster(r.ctx, "east", &structs.ClusterSpec{Zone: "z1", Labels: map[string]string{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	const n = 9
	keys := make([]*structs.APIKeyCreated, n)
	errs := make([]error, n)
	anon := make([]*client.Client, n)
	for i := range anon {
		anon[i] = r.client(t, i%r.c.N(), "")
	}
	race(n, func(i int) { keys[i], errs[i] = anon[i].Register(r.ctx, "east", tok.Key) })
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner < 0:
			winner = i
		case err == nil:
			t.Errorf("registrations %d and %d both succeeded", winner, i)
		case !errors.Is(err, structs.ErrUnauthorized):
			t.Errorf("registration %d: %v, want unauthorized", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no registration succeeded: %v", errs)
	}
	cl, err := admin.GetCluster(r.ctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	if cl.AgentKey.ID != keys[winner].ID || cl.BootstrapToken != (structs.APIKeyHash{}) {
		t.Errorf("cluster holds agent key %q and token %+v, want key %q and no token", cl.AgentKey.ID, cl.BootstrapToken, keys[winner].ID)
	}
	if _, err := r.client(t, 1, keys[winner].Key).Assignments(r.ctx, "east", client.AssignmentQuery{}); err != nil {
		t.Errorf("the winner's agent key: %v", err)
	}
}

// TestPutCAS: ?cas=N makes a PUT conditional on the modify index the
// caller read (0: create only); a mismatch is 409 and changes nothing.
func TestPutCAS(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	if _, err := e.admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}, client.CAS(0)); err != nil {
		t.Fatalf("create only, absent: %v", err)
	}
	if _, err := e.admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}, client.CAS(0)); !errors.Is(err, structs.ErrConflict) {
		t.Fatalf("create only, present: %v, want a conflict", err)
	}
	ten := value[*structs.Tenant](t)(e.admin.GetTenant(ctx, "acme"))
	before := e.index()
	if _, err := e.admin.PutTenant(ctx, &structs.Tenant{Name: "acme", Description: "x"}, client.CAS(ten.ModifyIndex+1)); !errors.Is(err, structs.ErrConflict) {
		t.Fatalf("wrong index: %v, want a conflict", err)
	}
	if _, err := e.admin.PutTenant(ctx, &structs.Tenant{Name: "acme", Description: "x"}, client.CAS(ten.ModifyIndex)); err != nil {
		t.Fatalf("index read: %v", err)
	}
	if _, err := e.admin.PutTenant(ctx, &structs.Tenant{Name: "acme", Description: "y"}, client.CAS(ten.ModifyIndex)); !errors.Is(err, structs.ErrConflict) {
		t.Fatalf("index read before a change: %v, want a conflict", err)
	}
	if got := value[*structs.Tenant](t)(e.admin.GetTenant(ctx, "acme")); got.Description != "x" || got.ModifyIndex <= before {
		t.Errorf("tenant after the conditional writes: %+v", got)
	}

	// A read-modify-write endpoint checks the caller's index too, and keeps
	// the API keys it does not replace.
	e.must(e.admin.PutUser(ctx, "ann", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser}, client.CAS(0)))
	ann := value[*structs.UserView](t)(e.admin.GetUser(ctx, "ann"))
	key := value[*structs.APIKeyCreated](t)(e.admin.CreateAPIKey(ctx, "ann", "k"))
	spec := &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser, Email: "ann@acme.example"}
	if _, err := e.admin.PutUser(ctx, "ann", spec, client.CAS(ann.ModifyIndex)); !errors.Is(err, structs.ErrConflict) {
		t.Fatalf("user changed since read (a key was added): %v, want a conflict", err)
	}
	ann = value[*structs.UserView](t)(e.admin.GetUser(ctx, "ann"))
	if _, err := e.admin.PutUser(ctx, "ann", spec, client.CAS(ann.ModifyIndex)); err != nil {
		t.Fatalf("user as read: %v", err)
	}
	ann = value[*structs.UserView](t)(e.admin.GetUser(ctx, "ann"))
	if ann.Email != spec.Email || len(ann.APIKeys) != 1 || ann.APIKeys[0].ID != key.ID {
		t.Errorf("user after the conditional write: %+v", ann)
	}
	for _, q := range []string{"x", "-1", ""} {
		if code, body := e.do(http.MethodPut, "/v1/tenants/acme?cas="+q, e.c.AdminKey, []byte(`{}`)); code != http.StatusBadRequest {
			t.Errorf("cas=%q: %d %s, want 400", q, code, body)
		}
	}
}

// TestPutRepliesIndexes: a PUT replies with the raft indexes it stored the
// object at, on the leader and through followers (forwarded), so a client
// can chain conditional writes without reading in between.
func TestPutRepliesIndexes(t *testing.T) {
	r := newReplicated(t)
	for i, cl := range r.clients {
		name := fmt.Sprintf("t%d", i)
		first, err := cl.PutTenant(r.ctx, &structs.Tenant{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if first.ModifyIndex == 0 || first.CreateIndex != first.ModifyIndex {
			t.Fatalf("replica %d: created tenant replied %+v, want equal non-zero indexes", i, first.RaftIndex)
		}
		// The replica that took the write has applied it when it replied.
		got, err := cl.GetTenant(r.ctx, name)
		if err != nil || got.RaftIndex != first.RaftIndex {
			t.Fatalf("replica %d: GET %+v, %v; PUT replied %+v", i, got, err, first.RaftIndex)
		}
		second, err := cl.PutTenant(r.ctx, &structs.Tenant{Name: name, Description: "2"}, client.CAS(first.ModifyIndex))
		if err != nil {
			t.Fatalf("replica %d: write conditional on the reply's index: %v", i, err)
		}
		if second.CreateIndex != first.CreateIndex || second.ModifyIndex <= first.ModifyIndex {
			t.Errorf("replica %d: replace replied %+v after %+v", i, second.RaftIndex, first.RaftIndex)
		}
		if _, err := cl.PutTenant(r.ctx, &structs.Tenant{Name: name, Description: "3"}, client.CAS(first.ModifyIndex)); !errors.Is(err, structs.ErrConflict) {
			t.Errorf("replica %d: write conditional on a stale index: %v, want a conflict", i, err)
		}
		// A read-modify-write endpoint replies with what it stored too.
		u, err := cl.PutUser(r.ctx, "u"+name, &structs.UserSpec{Tenant: name, Role: structs.RoleUser})
		if err != nil {
			t.Fatal(err)
		}
		gu, err := cl.GetUser(r.ctx, "u"+name)
		if err != nil || u.ModifyIndex == 0 || gu.RaftIndex != u.RaftIndex {
			t.Errorf("replica %d: user PUT replied %+v, GET %+v (%v)", i, u.RaftIndex, gu, err)
		}
	}
}

// TestDeleteCAS: DELETE ?cas=N removes the object only while it still has
// modify index N; a stale index is 409 and a 0 is 400, both changing
// nothing. Admin-only deletes and permission-checked ones alike.
func TestDeleteCAS(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	ten, err := e.admin.PutTenant(ctx, &structs.Tenant{Name: "gone"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.admin.PutUser(ctx, "leaver", &structs.UserSpec{Tenant: "gone", Role: structs.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path  string
		index uint64
	}{{"/v1/users/leaver", u.ModifyIndex}, {"/v1/tenants/gone", ten.ModifyIndex}} {
		before := e.index()
		for q, want := range map[string]int{"0": http.StatusBadRequest, "x": http.StatusBadRequest,
			fmt.Sprint(tc.index + 1000): http.StatusConflict} {
			if code, body := e.do(http.MethodDelete, tc.path+"?cas="+q, e.c.AdminKey, nil); code != want {
				t.Errorf("DELETE %s?cas=%s: %d %s, want %d", tc.path, q, code, body, want)
			}
		}
		if after := e.index(); after != before {
			t.Errorf("%s: refused deletes changed the state (index %d -> %d)", tc.path, before, after)
		}
		if code, body := e.do(http.MethodDelete, fmt.Sprintf("%s?cas=%d", tc.path, tc.index), e.c.AdminKey, nil); code != http.StatusOK {
			t.Errorf("DELETE %s?cas=%d: %d %s", tc.path, tc.index, code, body)
		}
	}
	if _, err := e.admin.GetTenant(ctx, "gone"); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("tenant after its delete: %v", err)
	}
	// The same through the client's CAS option.
	app, err := e.admin.PutApp(ctx, &structs.App{Name: "old-solver", Visibility: structs.VisibilityPublic,
		AppDef: structs.AppDef{Name: "Old", Commands: map[string]structs.Command{"Run": {Path: "/run.sh"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.admin.DeleteApp(ctx, app.Name, client.CAS(app.ModifyIndex+1000)); !errors.Is(err, structs.ErrConflict) {
		t.Errorf("client delete with a stale index: %v, want a conflict", err)
	}
	if err := e.admin.DeleteApp(ctx, app.Name, client.CAS(app.ModifyIndex)); err != nil {
		t.Errorf("client delete with the index read: %v", err)
	}
}
