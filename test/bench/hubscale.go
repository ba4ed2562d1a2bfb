package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// finishedPerTxn is how many jobs one write transaction of the fill
// moves a step through their lives.
const finishedPerTxn = 2000

// hubScaleRow adds the hub's scale row to r: the state of a hub with
// `finished` finished jobs (and their events and accounting records),
// saved and restored as a raft snapshot, its size and memory, and then
// `count` submissions by `clients` clients to 3 replicas started from it.
//
// The state is made without HTTP: a 1-replica hub seeds the tenant, the
// catalog and the user (its backup carries them), the finished jobs go
// through FSM applies of the commands that carry a job through its life
// (submit, assign, RUNNING, COMPLETED with its accounting record), in
// transactions of finishedPerTxn jobs, and the 3 replicas are prepared
// from the backup of the result (hub.RestoreBackup), as a restored
// cluster starts.
func hubScaleRow(ctx context.Context, r *report, finished, count, clients int, logStore string) error {
	defer gcAsHubBinary()()
	dir, err := os.MkdirTemp("", "flotilla-bench-hubscale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	backup, key, err := seedBackup(ctx, filepath.Join(dir, "seed"))
	if err != nil {
		return err
	}
	suffix := fmt.Sprintf("_%dfinished", finished)
	label := fmt.Sprintf("%d finished jobs", finished)

	heap0 := liveHeap()
	store, err := state.New()
	if err != nil {
		return err
	}
	hdr, err := store.RestoreBackup(backup)
	if err != nil {
		return err
	}
	fillStart := time.Now()
	if err := fillFinished(store, hdr.Index+1, finished); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: hub scale: %d finished jobs applied in %v\n", finished, time.Since(fillStart).Round(time.Millisecond))
	heapState := liveHeap() - heap0

	snapPath := filepath.Join(dir, "state.snap")
	save, size, err := timeSnapshotSave(store, snapPath)
	if err != nil {
		return err
	}
	backupPath := filepath.Join(dir, "state.backup")
	if err := writeBackup(store, backupPath); err != nil {
		return err
	}
	store = nil // the replicas restore their own
	restore, err := timeSnapshotRestore(snapPath)
	if err != nil {
		return err
	}
	r.add("hub_snapshot_save_ms"+suffix, round1(ms(save)), "ms", label+": state snapshot written (raft's Persist, to a file)")
	r.add("hub_snapshot_restore_ms"+suffix, round1(ms(restore)), "ms", label+": state snapshot restored (raft's Restore, from the file)")
	r.add("hub_snapshot_mb"+suffix, round1(float64(size)/(1<<20)), "MB", label+": snapshot size")
	r.add("hub_state_heap_mb"+suffix, round1(float64(heapState)/(1<<20)), "MB", label+": live heap of one replica's state")

	heap1 := liveHeap()
	start := time.Now()
	cl, err := startScaleHub(filepath.Join(dir, "hub"), backupPath, logStore)
	if err != nil {
		return err
	}
	defer cl.stop()
	if err := waitReady(ctx, cl, key); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: hub scale: 3 replicas restored and ready in %v\n", time.Since(start).Round(time.Millisecond))
	r.add("hub_replicas_heap_mb_3replicas"+suffix, round1(float64(liveHeap()-heap1)/(1<<20)), "MB", label+": live heap of 3 running replicas")
	var e0, c0 uint64
	l0 := cl.leader()
	if l0 != nil {
		e0, c0 = l0.Node().BatchStats()
	}
	ph := startPhase("hub-scale" + suffix)
	sub, err := submitClients(ctx, cl.URLs(), cl.CAFile, key, "scale", count, clients)
	fig := ph.stop(count + clients)
	if err != nil {
		return err
	}
	r.add("hub_submit_per_sec_3replicas"+suffix, round1(sub.perSec), "submits/s", label+", 3 replicas: submissions per second")
	r.add("hub_submit_p99_ms_3replicas"+suffix, round1(sub.p99), "ms", label+", 3 replicas: p99 latency")
	fmt.Fprintf(os.Stderr, "bench: hub scale: %d finished jobs: %v\n", finished, fig)
	if l := cl.leader(); l != nil {
		if l == l0 { // the same leader throughout: its counts are the run's
			e1, c1 := l.Node().BatchStats()
			fmt.Fprintf(os.Stderr, "bench: hub scale: %d commands in %d raft log entries on the leader\n", c1-c0, e1-e0)
		}
		jobs, _, err := l.Store().Read().ListJobs(state.JobFilter{State: structs.JobCompleted, Limit: 1})
		if err != nil || len(jobs) != 1 {
			return fmt.Errorf("leader lists no finished job (%v)", err)
		}
	}
	return nil
}

// seedBackup starts one replica, seeds it (benchHub.seed) and returns its
// backup and the bench user's API key.
func seedBackup(ctx context.Context, dir string) (*bufio.Reader, string, error) {
	cl, err := startBenchHub(dir, 1, raftnode.LogStoreWAL)
	if err != nil {
		return nil, "", err
	}
	defer cl.stop()
	key, err := cl.seed(ctx)
	if err != nil {
		return nil, "", err
	}
	admin, err := client.New(cl.URLs(), cl.AdminKey)
	if err != nil {
		return nil, "", err
	}
	defer admin.CloseIdleConnections()
	data, _, err := admin.Snapshot(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("seed backup: %w", err)
	}
	return bufio.NewReader(bytes.NewReader(data)), key, nil
}

// fillFinished applies, from raft index first on, the commands that carry
// n jobs of the bench user through their lives, finishedPerTxn jobs to a
// transaction per step.
func fillFinished(store *state.Store, first uint64, n int) error {
	f := fsm.New(store)
	index := first
	at := time.Now().UTC().Add(-time.Hour)
	for lo := 0; lo < n; lo += finishedPerTxn {
		hi := min(lo+finishedPerTxn, n)
		steps := [4][][]byte{}
		for k := lo; k < hi; k++ {
			id := fmt.Sprintf("j-done-%d", k)
			cmds := []fsm.Command{
				&fsm.JobSubmit{Job: structs.Job{ID: id, Tenant: "bench", Owner: "bench", App: "solver", Command: "Run",
					MachineType: "n1", Nodes: 1, State: structs.JobQueued, SubmitTime: at}},
				&fsm.JobAssignment{ID: id, Cluster: "east", Time: at},
				&fsm.JobStateUpdate{ID: id, Cluster: "east", State: structs.JobRunning, Time: at.Add(time.Second)},
				&fsm.JobStateUpdate{ID: id, Cluster: "east", State: structs.JobCompleted, Time: at.Add(time.Minute), Account: true},
			}
			for s, c := range cmds {
				b, err := fsm.Encode(c)
				if err != nil {
					return err
				}
				steps[s] = append(steps[s], b)
			}
		}
		for _, cmds := range steps {
			for i, res := range f.ApplyCommands(index, cmds) {
				if err, ok := res.(error); ok {
					return fmt.Errorf("fill: raft index %d command %d: %w", index, i, err)
				}
			}
			index++
		}
	}
	return nil
}

// timeSnapshotSave writes the store's snapshot to path as raft's Persist
// does and returns how long it took and the file's size.
func timeSnapshotSave(store *state.Store, path string) (time.Duration, int64, error) {
	start := time.Now()
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 64<<10)
	if err := store.Snapshot().Persist(bw); err != nil {
		return 0, 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, 0, err
	}
	d := time.Since(start)
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	return d, st.Size(), nil
}

// timeSnapshotRestore restores a fresh store from the snapshot at path as
// raft's Restore does and returns how long it took.
func timeSnapshotRestore(path string) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := time.Now()
	s, err := state.New()
	if err != nil {
		return 0, err
	}
	if err := s.Restore(bufio.NewReaderSize(f, 64<<10)); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func writeBackup(store *state.Store, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	if _, err := store.Snapshot().Backup(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// startScaleHub starts 3 replicas, each prepared from the backup at path
// before it starts.
func startScaleHub(dir, backupPath, logStore string) (*benchHub, error) {
	var prepErr error
	c, err := startHub(dir, 3, logStore, func(_ int, cfg *hub.Config) {
		f, err := os.Open(backupPath)
		if err != nil {
			prepErr = err
			return
		}
		defer f.Close()
		if _, err := hub.RestoreBackup(*cfg, bufio.NewReaderSize(f, 64<<10)); err != nil && prepErr == nil {
			prepErr = err
		}
	})
	if err == nil && prepErr != nil {
		c.stop()
		err = prepErr
	}
	return c, err
}

// waitReady waits until the replicas have a leader that takes the bench
// user's key.
func waitReady(ctx context.Context, cl *benchHub, key string) error {
	c, err := client.New(cl.URLs(), key, client.WithRetryTimeout(time.Minute))
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		leader, err := c.Ready(ctx)
		if err == nil && leader != "" && cl.leader() != nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("restored replicas: no leader within 2 minutes (%v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
