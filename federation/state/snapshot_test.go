package state

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

func persist(t testing.TB, s *Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := s.Snapshot().Persist(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSnapshotRestore(t *testing.T) {
	s := jobsFixture(t)
	write(t, s, 50, func(w *WriteTxn) error {
		_, err := w.AppendAudit(&structs.AuditEvent{ID: "e1", Actor: "alice", Action: "x", Time: t0})
		return err
	})
	snap := persist(t, s)

	r := newStore(t)
	if err := r.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if again := persist(t, r); !bytes.Equal(snap, again) {
		t.Fatalf("snapshot of restored store differs:\n%s", cmp.Diff(string(snap), string(again)))
	}
	wantJobs, _, _ := s.Read().ListJobs(JobFilter{})
	gotJobs, _, _ := r.Read().ListJobs(JobFilter{})
	if diff := cmp.Diff(wantJobs, gotJobs); diff != "" {
		t.Errorf("jobs after restore (-want +got):\n%s", diff)
	}
	if r.LatestIndex() != 50 || r.Index(TableJobs) != 30 {
		t.Errorf("indexes after restore: %d %d", r.LatestIndex(), r.Index(TableJobs))
	}
	// Sequences continue after a restore.
	if j := submit(t, r, 60, "after-restore", "acme", "alice", "n3"); j.Number != 13 {
		t.Errorf("number after restore = %d", j.Number)
	}
}

// TestSnapshotOrderIndependent writes the same objects in two orders in one
// transaction each: equal state must give equal bytes.
func TestSnapshotOrderIndependent(t *testing.T) {
	ops := []func(w *WriteTxn) error{
		func(w *WriteTxn) error { return w.UpsertTenant(&structs.Tenant{Name: "b"}, structs.CAS{}) },
		func(w *WriteTxn) error { return w.UpsertTenant(&structs.Tenant{Name: "a"}, structs.CAS{}) },
		func(w *WriteTxn) error {
			return w.UpsertCluster(&structs.Cluster{Name: "c", Labels: map[string]string{"z": "1", "a": "2", "m": "3"}}, structs.CAS{})
		},
		func(w *WriteTxn) error {
			return w.UpsertApp(&structs.App{Name: "x", Visibility: structs.VisibilityPublic}, structs.CAS{})
		},
	}
	build := func(reverse bool) []byte {
		s := newStore(t)
		write(t, s, 1, func(w *WriteTxn) error {
			for i := range ops {
				k := i
				if reverse {
					k = len(ops) - 1 - i
				}
				if err := ops[k](w); err != nil {
					return err
				}
			}
			return nil
		})
		return persist(t, s)
	}
	if a, b := build(false), build(true); !bytes.Equal(a, b) {
		t.Errorf("snapshots differ:\n%s", cmp.Diff(string(a), string(b)))
	}
}

func TestRestoreRejectsBadInput(t *testing.T) {
	good := string(persist(t, jobsFixture(t)))
	tests := map[string]string{
		"empty":         "",
		"not json":      "hello",
		"wrong format":  `{"format":"other","version":1}`,
		"wrong version": `{"format":"flotilla-state","version":99}`,
		"truncated":     good[:len(good)/2],
		"no end":        strings.TrimSuffix(good, "{\"end\":true}\n"),
		"unknown table": `{"format":"flotilla-state","version":1}` + "\n" + `{"table":"ghosts","count":1}` + "\n{}\n",
		"trailing data": good + "{}\n",
		"bad row":       `{"format":"flotilla-state","version":1}` + "\n" + `{"table":"tenants","count":1}` + "\n{\"name\":\"\"}\n{\"end\":true}\n",
	}
	// A bad row after more than a batch of good ones, more following: the
	// inserting side fails while the decoding side is still sending.
	var many strings.Builder
	many.WriteString(`{"format":"flotilla-state","version":1}` + "\n" + fmt.Sprintf(`{"table":"tenants","count":%d}`, 4*restoreBatch) + "\n")
	for i := range 4 * restoreBatch {
		name := fmt.Sprintf("t%05d", i)
		if i == restoreBatch+7 {
			name = ""
		}
		fmt.Fprintf(&many, "{\"name\":%q}\n", name)
	}
	many.WriteString("{\"end\":true}\n")
	tests["bad row among many"] = many.String()
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			seed(t, s)
			before := persist(t, s)
			if err := s.Restore(strings.NewReader(in)); err == nil {
				t.Fatal("Restore accepted bad input")
			} else if name == "wrong version" && !errors.Is(err, structs.ErrInvalid) {
				t.Errorf("error kind: %v", err)
			}
			if !bytes.Equal(before, persist(t, s)) {
				t.Error("failed restore changed the store")
			}
		})
	}
}
