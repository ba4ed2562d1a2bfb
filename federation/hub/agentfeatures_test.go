package hub_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

// countHandler counts the log records with one message.
type countHandler struct {
	msg string
	n   *atomic.Int64
}

func (h countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countHandler) WithGroup(string) slog.Handler      { return h }

// TestAgentFeaturesRecorded: the hub keeps an agent's version and
// features on its cluster, writing them (fsm.ClusterAgent) only when they
// change, not on every push; an agent that sends none (older than feature
// reports) keeps working and changes nothing; a malformed list is refused
// with 400; and while a replica in the directory does not apply
// ClusterAgent (a rolling upgrade) the push is accepted and nothing is
// recorded, until the last replica is upgraded.
func TestAgentFeaturesRecorded(t *testing.T) {
	var recorded atomic.Int64
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true,
		Logger: slog.New(countHandler{msg: "cluster agent recorded", n: &recorded})})
	seed(t, c)
	ctx := ctxFor(t, 60*time.Second)
	admin := newClient(t, c, c.AdminKey)
	push := func(a *structs.AgentInfo) error {
		t.Helper()
		_, err := admin.PushStatus(ctx, "east", &structs.ClusterStatusReport{Status: structs.ClusterReady, Agent: a})
		return err
	}
	agentOf := func() *structs.AgentInfo {
		t.Helper()
		cl, err := admin.GetCluster(ctx, "east")
		if err != nil {
			t.Fatal(err)
		}
		return cl.Agent
	}
	v1 := func() *structs.AgentInfo {
		return &structs.AgentInfo{Version: "v1.0.0", Features: []structs.AgentFeature{structs.FeatureJobEnv, structs.FeatureArrayJobs}}
	}
	sorted := &structs.AgentInfo{Version: "v1.0.0", Features: []structs.AgentFeature{structs.FeatureArrayJobs, structs.FeatureJobEnv}}

	if err := push(nil); err != nil {
		t.Fatalf("push of an agent without features: %v", err)
	}
	if a := agentOf(); a != nil {
		t.Fatalf("agent recorded from a push without one: %+v", a)
	}
	for range 4 {
		if err := push(v1()); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(sorted, agentOf()); diff != "" {
		t.Errorf("recorded agent (-want +got):\n%s", diff)
	}
	if n := recorded.Load(); n != 1 {
		t.Errorf("4 pushes of the same features recorded them %d times, want once", n)
	}
	if err := push(nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sorted, agentOf()); diff != "" {
		t.Errorf("a push without agent changed the record (-want +got):\n%s", diff)
	}
	bad := &structs.AgentInfo{Version: "v2", Features: []structs.AgentFeature{"Job Env"}}
	if err := push(bad); !errors.Is(err, structs.ErrInvalid) {
		t.Errorf("malformed feature: %v, want ErrInvalid", err)
	}

	// A rolling upgrade: a replica that does not apply ClusterAgent.
	old := &fsm.ReplicaUpsert{Replica: structs.Replica{ID: "old-binary", RaftAddress: "127.0.0.1:1", APIAddress: "http://127.0.0.1:1",
		Commands: "1-33,41-42,60-71,80,95-96,100"}}
	if _, err := c.Hub(0).Write(ctx, old); err != nil {
		t.Fatal(err)
	}
	v2 := &structs.AgentInfo{Version: "v2.0.0", Features: []structs.AgentFeature{structs.FeatureJobWorkdir}}
	if err := push(v2); err != nil {
		t.Fatalf("push during the upgrade: %v", err)
	}
	if diff := cmp.Diff(sorted, agentOf()); diff != "" {
		t.Errorf("recorded during the upgrade (-want +got):\n%s", diff)
	}
	if _, err := c.Hub(0).Write(ctx, &fsm.ReplicaDelete{ID: "old-binary"}); err != nil {
		t.Fatal(err)
	}
	if err := push(v2); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(v2, agentOf()); diff != "" {
		t.Errorf("after the upgrade (-want +got):\n%s", diff)
	}
	if n := recorded.Load(); n != 2 {
		t.Errorf("recorded %d times, want 2", n)
	}
}
