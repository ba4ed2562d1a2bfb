package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// setupFederation registers the demo's tenants, users, clusters, machine
// types, app and burst rule; it returns the agent keys by cluster and the
// demo user's API key.
func setupFederation(ctx context.Context, adm *client.Client) (map[string]string, string, error) {
	if _, err := adm.PutTenant(ctx, &structs.Tenant{Name: "acme", Description: "demo payer"}); err != nil {
		return nil, "", err
	}
	keys := map[string]string{}
	for name, labels := range map[string]map[string]string{"east": {"region": "us"}, "west": {"region": "us"}} {
		if _, err := adm.PutCluster(ctx, name, &structs.ClusterSpec{Zone: "demo", Labels: labels}); err != nil {
			return nil, "", err
		}
		k, err := adm.CreateAgentKey(ctx, name)
		if err != nil {
			return nil, "", err
		}
		keys[name] = k.Key
	}
	for _, mt := range []*structs.MachineType{
		{Name: "n32-east", Description: "32-core CPU node, east", Cores: 32, Slots: 32, RAM: 120, Cluster: "east", ScaleMax: 16, Price: 1.5,
			Properties: "flotilla.io/class=cpu"},
		{Name: "n32-west", Description: "32-core CPU node, west", Cores: 32, Slots: 32, RAM: 120, Cluster: "west", ScaleMax: 16, Price: 1.2,
			Properties: "flotilla.io/class=cpu"},
		{Name: "g8-east", Description: "8-GPU node, east", Cores: 64, Slots: 64, GPUs: 8, RAM: 500, Cluster: "east", ScaleMax: 4, Price: 20,
			Properties: "flotilla.io/class=gpu"},
	} {
		if _, err := adm.PutMachineType(ctx, mt); err != nil {
			return nil, "", err
		}
	}
	if _, err := adm.PutApp(ctx, &structs.App{Name: "mpi-hello", Visibility: structs.VisibilityPublic, Image: "flotilla/mpi-hello:demo",
		AppDef: structs.AppDef{Name: "MPI hello", Description: "prints one line per rank", Commands: map[string]structs.Command{
			"run": {Path: "/usr/bin/mpirun", Name: "Run", Description: "mpirun across every node"}}}}); err != nil {
		return nil, "", err
	}
	if _, err := adm.PutBurstRule(ctx, &structs.BurstRule{Name: "east-overflow-to-west", From: "n32-east", To: []string{"n32-west"},
		After: structs.Duration(10 * time.Second), WhenFull: true}); err != nil {
		return nil, "", err
	}
	if _, err := adm.PutUser(ctx, "alice", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser, Email: "alice@example.com",
		Password: portalLogins["alice"]}); err != nil {
		return nil, "", err
	}
	if _, err := adm.PutUser(ctx, "root", &structs.UserSpec{Tenant: "system", Role: structs.RoleAdmin,
		Password: portalLogins["root"]}); err != nil {
		return nil, "", err
	}
	k, err := adm.CreateAPIKey(ctx, "alice", "demo")
	if err != nil {
		return nil, "", err
	}
	return keys, k.Key, nil
}

// portalLogins are the demo's local portal accounts and their passwords,
// made fresh for every run: an administrator and a user.
var portalLogins = map[string]string{
	"root":  "root-" + strings.ToLower(rand.Text()[:10]),
	"alice": "alice-" + strings.ToLower(rand.Text()[:10]),
}

// runSample submits a 4-node MPI job as alice and waits until it runs.
func runSample(ctx context.Context, alice *client.Client) (*structs.Job, error) {
	j, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "mpi-hello", Command: "run",
		MachineType: "n32-east", Nodes: 4})
	if err != nil {
		return nil, err
	}
	fmt.Printf("submitted %s (number %d): mpi-hello on 4 × n32-east\n", j.Name, j.Number)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		cur, err := alice.GetJob(ctx, j.ID, false)
		if err == nil {
			line := fmt.Sprintf("  %-9s %s", cur.State, cur.Substatus)
			if line != last {
				fmt.Println(line)
				last = line
			}
			if cur.State == structs.JobRunning || cur.State.IsTerminal() {
				return cur, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("sample job did not start: %w", ctx.Err())
		case <-tick.C:
		}
	}
}
