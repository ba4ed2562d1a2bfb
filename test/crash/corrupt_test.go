package crash

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft-wal/metadb"
	"go.etcd.io/bbolt"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// TestCorruptLogStoreRefused damages a stopped replica's raft data the
// ways a crash or a disk can — a truncated WAL segment, a sealed segment
// left without its index (what raft-wal v0.4.0's tail truncation did), a
// torn bolt page, a torn snapshot — and starts the real flotilla-hub on
// it: the replica must exit non-zero with a message naming the data
// directory, the store and the way out, never panic, never serve; and
// `flotilla-hub check` must describe the damage. A torn newest snapshot
// with a good older one is not damage: the replica starts from the older
// one.
func TestCorruptLogStoreRefused(t *testing.T) {
	t.Run("wal", func(t *testing.T) {
		hubs, backup := makeReplicaData(t, "wal", 0, "-wal-segment-size", "16384", "-snapshot-threshold", "100000")
		segs := sealedSegments(t, hubs.Replica(0).DataDir)
		if len(segs) < 2 {
			t.Fatalf("want at least 2 sealed segments, have %d", len(segs))
		}
		refuse(t, hubs, backup, "truncated segment", func(dir string) {
			path := filepath.Join(dir, "wal", segs[1].file)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}, "wal", "read")
		refuse(t, hubs, backup, "segment without its index", func(dir string) {
			meta := &metadb.BoltMetaDB{}
			st, err := meta.Load(filepath.Join(dir, "wal"))
			if err != nil {
				t.Fatal(err)
			}
			for i := range st.Segments {
				if st.Segments[i].ID == segs[0].id {
					st.Segments[i].IndexStart = 0
				}
			}
			if err := meta.CommitState(st); err != nil {
				t.Fatal(err)
			}
			if err := meta.Close(); err != nil {
				t.Fatal(err)
			}
		}, "wal", "sealed segment has no index block")
	})
	t.Run("bolt", func(t *testing.T) {
		hubs, backup := makeReplicaData(t, "bolt", 0, "-snapshot-threshold", "100000")
		refuse(t, hubs, backup, "torn bolt page", func(dir string) { tearBoltPages(t, filepath.Join(dir, "raft.db")) },
			"bolt", "")
	})
	t.Run("snapshot", func(t *testing.T) {
		// Few trailing logs: the log no longer holds what the snapshot has.
		hubs, backup := makeReplicaData(t, "wal", 1, "-snapshot-threshold", "40", "-trailing-logs", "20",
			"-snapshot-interval", "1s")
		refuse(t, hubs, backup, "torn snapshot", func(dir string) {
			for _, s := range snapshotDirs(t, dir) {
				tearFile(t, filepath.Join(s, "state.bin"))
			}
		}, "snapshots", "no snapshot can be read")
	})
	t.Run("older snapshot", func(t *testing.T) {
		// Many trailing logs: the log goes back past the older snapshot.
		hubs, backup := makeReplicaData(t, "wal", 2, "-snapshot-threshold", "40", "-trailing-logs", "1000",
			"-snapshot-interval", "1s")
		restore(t, backup, hubs.Replica(0).DataDir)
		snaps := snapshotDirs(t, hubs.Replica(0).DataDir)
		tearFile(t, filepath.Join(snaps[0], "state.bin"))
		out := check(t, hubs, hubs.Replica(0).DataDir, 0)
		if !strings.Contains(out, "DAMAGED") || !strings.Contains(out, "restored at startup") {
			t.Errorf("check should name the torn snapshot and the one restored instead:\n%s", out)
		}
		if err := hubs.Start(0); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := hubs.WaitCaughtUp(ctx, 0); err != nil {
			t.Fatalf("the replica should start from the older snapshot: %v", err)
		}
		jobs, err := hubs.Client(hubs.AdminKey).AllJobs(ctx, client.JobQuery{Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != dataJobs {
			t.Errorf("after starting from the older snapshot: %d jobs, want %d", len(jobs), dataJobs)
		}
	})
}

// dataJobs is how many jobs makeReplicaData submits.
const dataJobs = 300

// makeReplicaData runs a one-replica hub with args, submits dataJobs jobs
// one by one (a log entry each), waits for at least snapshots snapshots,
// stops it gracefully and keeps a copy of its data directory.
func makeReplicaData(t *testing.T, store string, snapshots int, args ...string) (*procenv.Hubs, string) {
	t.Helper()
	hubs := procenv.StartHubs(t, procenv.HubOptions{Replicas: 1, LogStore: store, Args: args})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, err := hubs.Seed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cl, admin := hubs.Client(f.Key), hubs.Client(hubs.AdminKey)
	for i := range dataJobs {
		if _, err := cl.SubmitJob(ctx, structs.JobSubmitRequest{ID: fmt.Sprintf("d-%04d", i), App: f.App,
			MachineType: f.MachineType, Nodes: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for len(snapshotDirs(t, hubs.Replica(0).DataDir)) < snapshots {
		// Each write adds log entries; raft snapshots once the threshold is
		// passed at its next check.
		if _, err := admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %d snapshots: %v", snapshots, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	hubs.Stop(0)
	backup := filepath.Join(t.TempDir(), "backup")
	if err := copyDir(hubs.Replica(0).DataDir, backup); err != nil {
		t.Fatal(err)
	}
	return hubs, backup
}

// refuse restores the pristine data, damages it with damage, and checks
// that check reports it and that the replica refuses to start.
func refuse(t *testing.T, hubs *procenv.Hubs, backup, name string, damage func(dir string), store, detail string) {
	t.Run(name, func(t *testing.T) {
		dir := hubs.Replica(0).DataDir
		restore(t, backup, dir)
		damage(dir)
		out := check(t, hubs, dir, 1)
		t.Logf("check:\n%s", out)
		for _, want := range []string{"CANNOT START", store, detail} {
			if !strings.Contains(out, want) {
				t.Errorf("check output lacks %q:\n%s", want, out)
			}
		}
		if err := hubs.Start(0); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		code, err := hubs.WaitExit(ctx, 0)
		if err != nil {
			t.Fatalf("the replica should refuse to start: %v", err)
		}
		log := hubs.LastOutput(0)
		t.Logf("replica:\n%s", log)
		if code != 1 {
			t.Errorf("exit code %d, want 1\n%s", code, log)
		}
		for _, bad := range []string{"panic", "goroutine ", "replica started"} {
			if strings.Contains(log, bad) {
				t.Errorf("output has %q:\n%s", bad, log)
			}
		}
		for _, want := range []string{dir, store, "cannot be used", "flotilla-hub check", "-join", "docs/operations.md"} {
			if !strings.Contains(log, want) {
				t.Errorf("message lacks %q:\n%s", want, log)
			}
		}
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: hubs.TLSConfig()}}
		if resp, err := hc.Get(hubs.Replica(0).URL + "/healthz"); err == nil {
			resp.Body.Close()
			t.Errorf("the refused replica's API answered")
		} else if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("the refused replica's API port: %v, want connection refused", err)
		}
	})
}

// check runs `flotilla-hub check` on dir and wants exit code want.
func check(t *testing.T, hubs *procenv.Hubs, dir string, want int) string {
	t.Helper()
	out, err := exec.Command(hubs.Bin(), "check", "-data-dir", dir).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != want {
		t.Errorf("check exit code %d, want %d:\n%s", code, want, out)
	}
	if strings.Contains(string(out), "panic") {
		t.Errorf("check panicked:\n%s", out)
	}
	return string(out)
}

type segment struct {
	id   uint64
	file string
}

// sealedSegments lists the WAL's sealed segments in log order.
func sealedSegments(t *testing.T, dataDir string) []segment {
	t.Helper()
	meta := &metadb.BoltMetaDB{}
	st, err := meta.Load(filepath.Join(dataDir, "wal"))
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	var out []segment
	for _, s := range st.Segments {
		if !s.SealTime.IsZero() {
			out = append(out, segment{id: s.ID, file: fmt.Sprintf("%020d-%016x.wal", s.BaseIndex, s.ID)})
		}
	}
	return out
}

// snapshotDirs lists a data directory's finished snapshots, newest first.
func snapshotDirs(t *testing.T, dataDir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dataDir, "snapshots"))
	if err != nil {
		return nil
	}
	type snap struct {
		path               string
		term, index, milli uint64
	}
	var snaps []snap
	for _, e := range ents {
		var s snap
		// Names are term-index-millis.
		if _, err := fmt.Sscanf(e.Name(), "%d-%d-%d", &s.term, &s.index, &s.milli); err != nil ||
			!e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		s.path = filepath.Join(dataDir, "snapshots", e.Name())
		snaps = append(snaps, s)
	}
	sort.Slice(snaps, func(i, j int) bool {
		a, b := snaps[i], snaps[j]
		if a.term != b.term {
			return a.term > b.term
		}
		return a.index > b.index
	})
	var out []string
	for _, s := range snaps {
		out = append(out, s.path)
	}
	return out
}

// tearFile keeps the first half of a file and replaces the rest with
// what a write cut short leaves: zeros.
func tearFile(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, fi.Size()-fi.Size()/2), fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}

// tearBoltPages tears every leaf and branch page of a bolt file the way
// a write cut short between sectors would: the first sector of the page
// is kept, the rest holds stale bytes.
func tearBoltPages(t *testing.T, path string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pageSize := db.Info().PageSize
	var pages []int
	err = db.View(func(tx *bbolt.Tx) error {
		for id := 2; ; id++ {
			pi, err := tx.Page(id)
			if err != nil || pi == nil {
				return err
			}
			if pi.Type == "leaf" || pi.Type == "branch" {
				pages = append(pages, id)
			}
		}
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) == 0 {
		t.Fatal("no leaf or branch pages to tear")
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	stale := make([]byte, pageSize-512)
	for _, id := range pages {
		for i := range stale {
			stale[i] = byte(rng.Uint32())
		}
		if _, err := f.WriteAt(stale, int64(id*pageSize+512)); err != nil {
			t.Fatal(err)
		}
	}
}

func restore(t *testing.T, backup, dir string) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := copyDir(backup, dir); err != nil {
		t.Fatal(err)
	}
}

func copyDir(src, dst string) error {
	return filepath.Walk(src, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o750)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
