package state

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

// TestClusterAgentKept: an agent's version and features stay on the
// cluster through heartbeats and re-registrations, survive a snapshot,
// and the golden snapshots of hubs that did not record them restore with
// none (an agent older than feature reports).
func TestClusterAgentKept(t *testing.T) {
	s := newStore(t)
	seed(t, s)
	agent := &structs.AgentInfo{Version: "v1.4.0", Features: []structs.AgentFeature{structs.FeatureArrayJobs, structs.FeatureJobEnv}}
	write(t, s, 5, func(w *WriteTxn) error { return w.SetClusterAgent("east", agent) })
	agent.Features[0] = "changed" // the store must hold its own copy
	write(t, s, 6, func(w *WriteTxn) error {
		return w.Heartbeat(&structs.ClusterHeartbeat{Cluster: "east", Status: structs.ClusterReady, Time: t0})
	})
	write(t, s, 7, func(w *WriteTxn) error {
		return w.UpsertCluster(&structs.Cluster{Name: "east", Zone: "z9"}, structs.CAS{})
	})
	want := &structs.AgentInfo{Version: "v1.4.0", Features: []structs.AgentFeature{structs.FeatureArrayJobs, structs.FeatureJobEnv}}
	c, err := s.Read().Cluster("east")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, c.Agent); diff != "" {
		t.Errorf("agent after heartbeat and re-registration (-want +got):\n%s", diff)
	}
	if w, _ := s.Read().Cluster("west"); w.Agent != nil {
		t.Errorf("west's agent never reported, yet %+v", w.Agent)
	}

	w := s.Write(8)
	err = w.SetClusterAgent("nope", want)
	if !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("agent of an unknown cluster: %v", err)
	}
	err = w.SetClusterAgent("east", &structs.AgentInfo{Features: []structs.AgentFeature{"Job Env"}})
	if !errors.Is(err, structs.ErrInvalid) {
		t.Errorf("malformed feature: %v", err)
	}
	w.Abort()

	r := newStore(t)
	if err := r.Restore(bytes.NewReader(persist(t, s))); err != nil {
		t.Fatal(err)
	}
	if c, _ := r.Read().Cluster("east"); c == nil || !c.Agent.Equal(want) {
		t.Errorf("agent after restore: %+v", c)
	}

	files, err := filepath.Glob(filepath.Join(goldenDir, "*state.snap"))
	if err != nil || len(files) == 0 {
		t.Fatalf("golden snapshots: %v %v", files, err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		g := newStore(t)
		if err := g.Restore(bytes.NewReader(data)); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		clusters, err := g.Read().Clusters()
		if err != nil || len(clusters) == 0 {
			t.Fatalf("%s: clusters %v, %v", file, clusters, err)
		}
		for _, c := range clusters {
			if c.Agent != nil {
				t.Errorf("%s: cluster %s restored with agent %+v, want none", file, c.Name, c.Agent)
			}
		}
	}
}
