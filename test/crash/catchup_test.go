package crash

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// TestDeposedLeaderRejoinsThroughSnapshot runs three flotilla-hub
// processes with snapshots every few dozen entries and a short log behind
// them. Both followers are killed (SIGKILL); the leader, alone, takes
// submissions it cannot commit, appending them to its log, and is killed
// too. The followers come back, elect a leader and commit far more than
// the log keeps behind a snapshot, so the old leader, started again with
// its uncommitted tail, can only catch up through a snapshot (see
// federation/raftnode snapLog; raft-wal still serves entries a compaction
// deleted while their segment lives, which snapLog no longer reads). It
// must catch up, and every replica must
// then list the same jobs: every acknowledged one, exactly once with its
// number, and none of the uncommitted ones.
func TestDeposedLeaderRejoinsThroughSnapshot(t *testing.T) {
	for _, store := range []string{"wal", "bolt"} {
		t.Run(store, func(t *testing.T) { deposedLeaderRejoins(t, store) })
	}
}

// trailingLogs is the hubs' -trailing-logs: how many entries a snapshot
// leaves in the log behind it.
const trailingLogs = 32

// orphanNames are the jobs submitted to the leader alone.
var orphanNames = func() []string {
	n := make([]string, 8)
	for k := range n {
		n[k] = fmt.Sprintf("orphan-%02d", k)
	}
	return n
}()

func deposedLeaderRejoins(t *testing.T, store string) {
	hubs := procenv.StartHubs(t, procenv.HubOptions{LogStore: store, Args: []string{
		"-snapshot-threshold", "64", "-snapshot-interval", "1s", "-trailing-logs", strconv.Itoa(trailingLogs),
		"-raft-log-level", "info", // to see the snapshot installs
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	f, err := hubs.Seed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acked := map[string]uint64{}
	submitAll(ctx, t, hubs.Client(f.Key), f, "before", 20, acked)

	old, err := hubs.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The old leader's log will end at most a few entries past this: the
	// orphans' entries (at most one each) and a no-op or two.
	committed, err := raftGauge(ctx, hubs, old, "flotilla_hub_raft_commit_index")
	if err != nil {
		t.Fatal(err)
	}
	tailEnd := uint64(committed) + uint64(len(orphanNames)) + 8
	for i := range hubs.N() {
		if i != old {
			hubs.Kill(i)
		}
	}
	// Alone, the leader appends these to its log and cannot commit them.
	lone, err := client.New([]string{hubs.Replica(old).URL}, f.Key, client.WithRetryTimeout(time.Second),
		client.WithHTTPClient(&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: hubs.TLSConfig()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer lone.CloseIdleConnections()
	var wg sync.WaitGroup
	orphans := orphanNames
	for k := range orphans {
		wg.Go(func() {
			lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
			defer lcancel()
			if j, err := lone.SubmitJob(lctx, structs.JobSubmitRequest{ID: orphans[k], App: f.App, MachineType: f.MachineType, Nodes: 1}); err == nil {
				t.Errorf("a leader without its followers acknowledged %s (number %d)", orphans[k], j.Number)
			}
		})
	}
	wg.Wait()
	hubs.Kill(old)

	for i := range hubs.N() {
		if i != old {
			if err := hubs.Start(i); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Several snapshots' worth: the new leader's log no longer holds where
	// the old leader's tail begins.
	submitAll(ctx, t, hubs.Client(f.Key), f, "after", 300, acked)
	// How many entries the submissions took depends on how the leader
	// batched them, and raft snapshots in the background: submit more
	// until every running replica has snapshotted (and compacted its log
	// to trailing-logs behind) past the old leader's tail.
	for round := 0; ; round++ {
		short := false
		for i := range hubs.N() {
			if i == old {
				continue
			}
			snap, err := raftGauge(ctx, hubs, i, "flotilla_hub_raft_last_snapshot_index")
			if err != nil {
				t.Fatal(err)
			}
			if uint64(snap) < tailEnd+trailingLogs+1 {
				short = true
			}
		}
		if !short {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the running replicas did not snapshot past index %d: %v", tailEnd+trailingLogs+1, ctx.Err())
		}
		// One snapshot interval for a snapshot already due, then more.
		select {
		case <-ctx.Done():
		case <-time.After(1500 * time.Millisecond):
		}
		submitAll(ctx, t, hubs.Client(f.Key), f, fmt.Sprintf("more%02d", round), 50, acked)
	}
	if err := hubs.Start(old); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer wcancel()
	if err := hubs.WaitCaughtUp(wctx, old); err != nil {
		t.Fatalf("the old leader %s did not catch up: %v", hubs.Replica(old).ID, err)
	}
	submitAll(ctx, t, hubs.Client(f.Key), f, "rejoined", 20, acked)
	// It caught up through a snapshot, and did not need it sent over and
	// over (without snapLog: dozens of installs a second).
	if n := installsSinceStart(t, hubs.Replica(old).LogPath); n < 1 || n > 8 {
		t.Errorf("the old leader installed a snapshot %d times since it started again, want 1 (at most 8)", n)
	}

	var first []string
	for i := range hubs.N() {
		if err := hubs.WaitCaughtUp(ctx, i); err != nil {
			t.Fatal(err)
		}
		checkJobs(t, ctx, hubs, i, f.Key, acked)
		ids := jobIDs(ctx, t, hubs, i, f.Key)
		for _, o := range orphans {
			if slices.Contains(ids, o) {
				t.Errorf("%s lists %s, which was never committed", hubs.Replica(i).ID, o)
			}
		}
		if i == 0 {
			first = ids
		} else if !slices.Equal(ids, first) {
			t.Errorf("%s lists %d jobs, %s lists %d: the replicas differ", hubs.Replica(i).ID, len(ids), hubs.Replica(0).ID, len(first))
		}
	}
}

// submitAll submits n jobs named prefix-NNNN through cl, 8 at a time, and
// records each one's number in acked.
func submitAll(ctx context.Context, t *testing.T, cl *client.Client, f procenv.Fixture, prefix string, n int, acked map[string]uint64) {
	t.Helper()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	sem := make(chan struct{}, 8)
	for k := range n {
		id := fmt.Sprintf("%s-%04d", prefix, k)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			j, err := cl.SubmitJob(ctx, structs.JobSubmitRequest{ID: id, App: f.App, MachineType: f.MachineType, Nodes: 1})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", id, err))
				return
			}
			acked[id] = j.Number
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d submissions failed, e.g. %v", len(errs), n, errs[0])
	}
}

// installsSinceStart counts raft's "Installed remote snapshot" lines in a
// replica's log since procenv last started it.
func installsSinceStart(t *testing.T, logPath string) int {
	t.Helper()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if i := strings.LastIndex(text, "=== procenv: start"); i >= 0 {
		text = text[i:]
	}
	return strings.Count(text, "Installed remote snapshot")
}

// jobIDs lists the IDs of every job replica i holds, sorted.
func jobIDs(ctx context.Context, t *testing.T, hubs *procenv.Hubs, i int, key string) []string {
	t.Helper()
	jobs := replicaJobs(ctx, t, hubs, i, key)
	ids := map[string]bool{}
	for _, j := range jobs {
		ids[j.ID] = true
	}
	return slices.Sorted(maps.Keys(ids))
}

// raftGauge reads one of a replica's unlabelled gauges from its /metrics.
func raftGauge(ctx context.Context, hubs *procenv.Hubs, i int, name string) (float64, error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, hubs.Replica(i).URL+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: hubs.TLSConfig()}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s: scrape: %w", hubs.Replica(i).ID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("%s: scrape: %w", hubs.Replica(i).ID, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: scrape: %s", hubs.Replica(i).ID, resp.Status)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s in /metrics", hubs.Replica(i).ID, name)
}
