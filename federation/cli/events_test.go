package cli

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestEventsEveryPage: events prints every event the caller may see, also
// after more than a page (1,000) of events of another tenant, and --job
// keeps one job's.
func TestEventsEveryPage(t *testing.T) {
	c, url := testHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm, err := client.New([]string{url}, c.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]*client.Client{}
	var aliceKey string
	for _, u := range []struct{ user, tenant string }{{"alice", "acme"}, {"bob", "other"}} {
		if _, err := adm.PutTenant(ctx, &structs.Tenant{Name: u.tenant}); err != nil {
			t.Fatal(err)
		}
		if _, err := adm.PutUser(ctx, u.user, &structs.UserSpec{Tenant: u.tenant, Role: structs.RoleUser}); err != nil {
			t.Fatal(err)
		}
		k, err := adm.CreateAPIKey(ctx, u.user, "cli")
		if err != nil {
			t.Fatal(err)
		}
		if keys[u.user], err = client.New([]string{url}, k.Key); err != nil {
			t.Fatal(err)
		}
		if u.user == "alice" {
			aliceKey = k.Key
		}
	}
	if _, err := adm.PutCluster(ctx, "east", &structs.ClusterSpec{}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutMachineType(ctx, &structs.MachineType{Name: "n1", Cores: 1, Slots: 1, RAM: 1, ScaleMin: 1, ScaleMax: 1, Cluster: "east"}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic, Image: "x:1",
		AppDef: structs.AppDef{Name: "Solver", Commands: map[string]structs.Command{"run": {Path: "/run.sh", Name: "Run"}}}}); err != nil {
		t.Fatal(err)
	}
	submit := func(cl *client.Client) *structs.Job {
		j, err := cl.SubmitJob(ctx, structs.JobSubmitRequest{App: "solver", MachineType: "n1", Nodes: 1})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	first := submit(keys["alice"])
	// More than a page of another tenant's events, from 8 submitters.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 1100 / 8 {
				if _, err := keys["bob"].SubmitJob(ctx, structs.JobSubmitRequest{App: "solver", MachineType: "n1", Nodes: 1}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	second := submit(keys["alice"])
	if _, err := keys["alice"].CancelJob(ctx, first.ID, "done"); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvHub: url, EnvAPIKey: aliceKey}
	r := runCLI(t, env, "events")
	r.check(t, ExitOK, first.ID, second.ID, "QUEUED -> CANCELED")
	if n := strings.Count(r.stdout, "\n"); n != 3 {
		t.Errorf("events: %d lines, want alice's 3 events:\n%s", n, r.stdout)
	}
	r = runCLI(t, env, "events", "--job", "1", "-o", "json")
	if n := strings.Count(r.stdout, "\n"); n != 2 || strings.Contains(r.stdout, second.ID) || !strings.Contains(r.stdout, `"state":"CANCELED"`) {
		t.Errorf("events --job 1: want job 1's 2 events:\n%s", r.stdout)
	}
	runCLI(t, env, "events", "--job", "99999").check(t, ExitNotFound, `job "99999"`)
}
