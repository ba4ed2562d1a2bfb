package hub_test

import (
	"context"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// ctxFor returns a context ending after d or with the test.
func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newClient returns a client of the given replicas (all when none given).
func newClient(t testing.TB, c *hubtest.Cluster, key string, replicas ...int) *client.Client {
	t.Helper()
	urls := c.URLs()
	if len(replicas) > 0 {
		urls = nil
		for _, i := range replicas {
			urls = append(urls, c.URL(i))
		}
	}
	cl, err := client.New(urls, key, client.WithRetryTimeout(60*time.Second),
		client.WithBackoff(5*time.Millisecond, 200*time.Millisecond), withClusterTLS(t, c))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.CloseIdleConnections)
	return cl
}

// fixture is the catalog the hub tests submit against.
type fixture struct {
	Tenant, User, Key, MachineType, App string
}

// seed creates tenant acme, cluster east, machine type n1 (1..16 nodes),
// public app solver and user alice with an API key.
func seed(t testing.TB, c *hubtest.Cluster) fixture {
	t.Helper()
	ctx := ctxFor(t, 60*time.Second)
	if _, err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	admin := newClient(t, c, c.AdminKey)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}))
	must(admin.PutCluster(ctx, "east", &structs.ClusterSpec{Zone: "z1"}))
	must(admin.PutMachineType(ctx, &structs.MachineType{Name: "n1", Cores: 4, Slots: 4, RAM: 16,
		ScaleMin: 1, ScaleMax: 16, Cluster: "east"}))
	must(admin.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic,
		AppDef: structs.AppDef{Name: "Solver", Commands: map[string]structs.Command{"Run": {Path: "/run.sh"}}}}))
	must(admin.PutUser(ctx, "alice", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser}))
	k, err := admin.CreateAPIKey(ctx, "alice", "tests")
	if err != nil {
		t.Fatal(err)
	}
	return fixture{Tenant: "acme", User: "alice", Key: k.Key, MachineType: "n1", App: "solver"}
}

func (f fixture) job(id string) structs.JobSubmitRequest {
	return structs.JobSubmitRequest{ID: id, App: f.App, MachineType: f.MachineType, Nodes: 1}
}

// spreadClient returns a client that tries replica i%n first and stays
// there (followers forward its writes), unless opts say otherwise.
func spreadClient(t testing.TB, c *hubtest.Cluster, key string, i int, opts ...client.Option) *client.Client {
	t.Helper()
	n := c.N()
	urls := make([]string, n)
	for k := range n {
		urls[k] = c.URL((i + k) % n)
	}
	opts = append([]client.Option{client.WithRetryTimeout(60 * time.Second),
		client.WithBackoff(5*time.Millisecond, 200*time.Millisecond), client.WithoutLeaderPreference(), withClusterTLS(t, c)}, opts...)
	cl, err := client.New(urls, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.CloseIdleConnections)
	return cl
}

// syncLive waits for a leader and until every running replica has applied
// everything the leader has committed, and returns the leader.
func syncLive(t testing.TB, c *hubtest.Cluster) int {
	t.Helper()
	ctx := ctxFor(t, 60*time.Second)
	for {
		l, err := c.WaitLeader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		index, err := c.Hub(l).ReadIndexInternal(ctx)
		if err != nil {
			continue // leadership moved; try again
		}
		if err := c.WaitApplied(ctx, index); err != nil {
			t.Fatal(err)
		}
		return l
	}
}

// jobsOf returns every job in replica i's store, by ID, failing the test on
// duplicate numbers.
func jobsOf(t testing.TB, c *hubtest.Cluster, i int) map[string]*structs.Job {
	t.Helper()
	jobs, _, err := c.Hub(i).Store().Read().ListJobs(state.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	byID := make(map[string]*structs.Job, len(jobs))
	byNumber := make(map[uint64]string, len(jobs))
	for _, j := range jobs {
		if _, dup := byID[j.ID]; dup {
			t.Errorf("%s: job id %q stored twice", c.ID(i), j.ID)
		}
		if other, dup := byNumber[j.Number]; dup {
			t.Errorf("%s: job number %d held by %q and %q", c.ID(i), j.Number, other, j.ID)
		}
		byID[j.ID], byNumber[j.Number] = j, j.ID
	}
	return byID
}

// withClusterTLS makes a client trust the cluster's CA (hubtest.Options.TLS;
// nothing without).
func withClusterTLS(t testing.TB, c *hubtest.Cluster) client.Option {
	t.Helper()
	tc, err := c.ClientTLS()
	if err != nil {
		t.Fatal(err)
	}
	return client.WithTLS(tc)
}
