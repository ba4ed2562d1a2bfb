package state

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden snapshots of the current encoding")

// goldenDir holds snapshots and backups as hubs wrote them: the current
// encoding's (v1-state.snap, v1-backup.snap, rewritten with -update only
// when the encoding changes on purpose, keeping the old ones under a new
// name) and earlier ones (v1-2026-11-28-state.snap: version 1 as the hub
// of that day wrote it, with the since-dropped parameter_order of apps).
const goldenDir = "testdata/golden"

// goldenStore is a state with a row in every table.
func goldenStore(t *testing.T) *Store {
	s := jobsFixture(t)
	write(t, s, 50, func(w *WriteTxn) error {
		if _, err := w.AppendAudit(&structs.AuditEvent{ID: "e1", Actor: "alice", Tenant: "acme", Action: "job.submit", Time: t0}); err != nil {
			return err
		}
		if _, err := w.AppendAccounting(&structs.AccountingRecord{ID: "j1-acct", JobID: jobID(1), Tenant: "acme",
			Start: t0, End: t0.Add(time.Hour), Cost: 1.5}); err != nil {
			return err
		}
		return w.UpsertReplica(&structs.Replica{ID: "hub0", RaftAddress: "10.0.0.1:7000", APIAddress: "http://10.0.0.1:8080"})
	})
	return s
}

func TestGoldenSnapshotsRestore(t *testing.T) {
	s := goldenStore(t)
	current := map[string][]byte{"v1-state.snap": persist(t, s)}
	var backup bytes.Buffer
	if _, err := s.Snapshot().Backup(&backup); err != nil {
		t.Fatal(err)
	}
	current["v1-backup.snap"] = backup.Bytes()
	if *updateGolden {
		for name, b := range current {
			if err := os.WriteFile(filepath.Join(goldenDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, want := range current {
		got, err := os.ReadFile(filepath.Join(goldenDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the current encoding writes other bytes (keep the old file under a new name, then -update):\n%s",
				name, cmp.Diff(string(got), string(want)))
		}
	}
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.snap"))
	if err != nil || len(files) < 3 {
		t.Fatalf("golden snapshots: %v %v", files, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			r := newStore(t)
			isBackup := strings.Contains(filepath.Base(file), "backup")
			if isBackup {
				h, err := r.RestoreBackup(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				if r.LatestIndex() != h.Index {
					t.Errorf("latest index %d after restoring a backup of index %d", r.LatestIndex(), h.Index)
				}
			} else if err := r.Restore(bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			jobs, _, err := r.Read().ListJobs(JobFilter{})
			if err != nil || len(jobs) == 0 {
				t.Errorf("no jobs after restore: %v", err)
			}
			// What a restored store writes restores to the same store.
			again := persist(t, r)
			r2 := newStore(t)
			if err := r2.Restore(bytes.NewReader(again)); err != nil {
				t.Fatal(err)
			}
			if b := persist(t, r2); !bytes.Equal(b, again) {
				t.Errorf("a restored golden snapshot does not round-trip:\n%s", cmp.Diff(string(again), string(b)))
			}
			if _, cur := current[filepath.Base(file)]; cur && !isBackup && !bytes.Equal(again, data) {
				t.Errorf("restoring and saving changes the bytes:\n%s", cmp.Diff(string(data), string(again)))
			}
		})
	}
}

func TestBackupLeavesOutTheReplicaDirectory(t *testing.T) {
	s := goldenStore(t)
	var a bytes.Buffer
	ia, err := s.Snapshot().Backup(&a)
	if err != nil {
		t.Fatal(err)
	}
	// The new cluster lists its own replicas: the data backs up the same.
	r := newStore(t)
	if _, err := r.RestoreBackup(bytes.NewReader(a.Bytes())); err != nil {
		t.Fatal(err)
	}
	write(t, r, ia+5, func(w *WriteTxn) error {
		return w.UpsertReplica(&structs.Replica{ID: "new0", RaftAddress: "10.9.0.1:7000", APIAddress: "http://10.9.0.1:8080"})
	})
	var b bytes.Buffer
	ib, err := r.Snapshot().Backup(&b)
	if err != nil {
		t.Fatal(err)
	}
	if ia != ib || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("backups differ (index %d, then %d):\n%s", ia, ib, cmp.Diff(a.String(), b.String()))
	}
	if strings.Contains(a.String(), `"table":"replicas"`) {
		t.Error("a backup holds the replica directory")
	}
}

func TestRestoreRefusesWhatItCannotRead(t *testing.T) {
	good := persist(t, goldenStore(t))
	cases := map[string]string{
		"newer snapshot version": strings.Replace(string(good), `"version":1`, `"version":2`, 1),
		"unknown table":          strings.Replace(string(good), `{"end":true}`, `{"table":"from_the_future","count":1}`+"\n{}\n"+`{"end":true}`, 1),
		"truncated":              string(good[:len(good)/2]),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			r := goldenStore(t)
			before := persist(t, r)
			if err := r.Restore(strings.NewReader(data)); err == nil {
				t.Fatal("restored")
			}
			if after := persist(t, r); !bytes.Equal(before, after) {
				t.Error("a refused restore changed the store")
			}
		})
	}
	for name, data := range map[string]string{
		"not a backup":         string(good),
		"newer backup version": `{"format":"flotilla-backup","version":9,"index":3}` + "\n" + string(good),
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := ReadBackupHeader(strings.NewReader(data)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
