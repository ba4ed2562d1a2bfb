package main

import (
	"context"
	"crypto/rand"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/localnodes"
)

// setupFederation registers the demo's tenants, users, clusters, machine
// types, app and burst rule; it returns the agent keys by cluster and the
// demo user's API key.
func setupFederation(ctx context.Context, adm *client.Client, scripts appScripts) (map[string]string, string, error) {
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
		// One core on a local node: pods are real processes.
		{Name: "l1-east", Description: "1 core on a local node, east", Cores: 1, Slots: 1, RAM: 1, Cluster: "east", ScaleMax: 4, Price: 0.1,
			Properties: localnodes.Label + "=true"},
		{Name: "l1-west", Description: "1 core on a local node, west", Cores: 1, Slots: 1, RAM: 1, Cluster: "west", ScaleMax: 4, Price: 0.1,
			Properties: localnodes.Label + "=true"},
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
			"run":  {Path: scripts.hello, Name: "Run", Description: "mpirun across every node"},
			"work": {Path: scripts.work, Name: "Work", Description: "one rank per node, busy for a while"}}}}); err != nil {
		return nil, "", err
	}
	for _, r := range []*structs.BurstRule{
		{Name: "east-overflow-to-west", From: "n32-east", To: []string{"n32-west"}, After: structs.Duration(10 * time.Second), WhenFull: true},
		{Name: "east-local-full-to-west", From: "l1-east", To: []string{"l1-west"}, After: structs.Duration(3 * time.Second), WhenFull: true},
	} {
		if _, err := adm.PutBurstRule(ctx, r); err != nil {
			return nil, "", err
		}
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
