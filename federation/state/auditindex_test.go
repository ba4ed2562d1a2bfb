package state

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// auditModel is the audit trail as a plain slice in Seq order: what the
// store's indexes must answer.
type auditModel []*structs.AuditEvent

// purge drops the oldest events by (time, Seq) before cutoff, at most
// limit, as PurgeAudit must, and returns how many.
func (m *auditModel) purge(cutoff time.Time, limit int) int {
	byT := slices.Clone(*m)
	slices.SortFunc(byT, func(a, b *structs.AuditEvent) int { return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Seq, b.Seq)) })
	gone := map[uint64]bool{}
	for _, e := range byT {
		if len(gone) == limit || !e.Time.Before(cutoff) {
			break
		}
		gone[e.Seq] = true
	}
	*m = slices.DeleteFunc(*m, func(e *structs.AuditEvent) bool { return gone[e.Seq] })
	return len(gone)
}

// TestAuditIndexMatchesSortedSlice: many transactions of random appends
// (times out of apply order, some far back, some equal; three tenants
// and none; duplicate IDs refused), retention purges of random cutoffs
// and sizes, aborted transactions, snapshots restored and written on:
// after every step the trail holds exactly the model's events; at
// checkpoints every query (QueryAudit by tenant, actor, action, object,
// time window and limit; ListAudit's pages; AuditEvent; AuditBefore)
// answers what a scan of the model answers, and so do views opened
// many transactions earlier, which must not see any later write. The
// appends cross the tail's capacity many times (auditindex.go), so
// events are read from the tail, the trees and both at once.
func TestAuditIndexMatchesSortedSlice(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 23))
	s := newStore(t)
	tenants := [...]string{"acme", "beta", "", "acme", "gamma"}
	actors := [...]string{"alice", "bob", "carol", "cluster:east"}
	actions := [...]string{"job.submit", "job.cancel", "user.update", "tenant.create"}
	kinds := [...]string{"job", "user", "tenant", ""}
	var model auditModel
	type view struct {
		r     *ReadTxn
		model auditModel
	}
	var views []view
	checkViews := func(when string) {
		t.Helper()
		for i, v := range views {
			if got, want := seqsOf(allAudit(v.r)), seqsOf(v.model); !slices.Equal(got, want) {
				t.Fatalf("%s: view %d changed: opened with %v, now %v", when, i, want, got)
			}
		}
	}
	index, n, purged, aborted, restores := uint64(1), 0, 0, 0, 0
	const steps = 300
	for step := range steps {
		w := s.Write(index)
		next := slices.Clone(model)
		for range rnd.IntN(36) {
			n++
			at := time.Duration(step)*time.Minute + time.Duration(rnd.IntN(20))*time.Minute - 15*time.Minute
			if rnd.IntN(30) == 0 {
				at -= time.Duration(rnd.IntN(180)) * time.Minute
			}
			e := &structs.AuditEvent{ID: fmt.Sprintf("ev-%05d", rnd.IntN(20000)), Actor: actors[rnd.IntN(len(actors))],
				Tenant: tenants[rnd.IntN(len(tenants))], Action: actions[rnd.IntN(len(actions))], ObjectKind: kinds[rnd.IntN(len(kinds))],
				ObjectName: fmt.Sprintf("o%d", rnd.IntN(4)), Outcome: "ok", Time: t0.Add(at)}
			got, err := w.AppendAudit(e)
			switch {
			case errors.Is(err, structs.ErrConflict):
				if !slices.ContainsFunc(next, func(o *structs.AuditEvent) bool { return o.ID == e.ID }) {
					t.Fatalf("step %d: %s refused as a duplicate, but not stored", step, e.ID)
				}
			case err != nil:
				t.Fatal(err)
			default:
				next = append(next, got)
			}
		}
		if rnd.IntN(8) == 0 {
			cutoff := t0.Add(time.Duration(rnd.IntN(step+30)) * time.Minute)
			limit := 1 + rnd.IntN(300)
			got, err := w.PurgeAudit(cutoff, limit)
			if err != nil {
				t.Fatal(err)
			}
			if want := next.purge(cutoff, limit); got != want {
				t.Fatalf("step %d: PurgeAudit(%v, %d) = %d, model: %d", step, cutoff, limit, got, want)
			}
			purged += got
		}
		if rnd.IntN(7) == 0 {
			w.Abort()
			aborted++
		} else {
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
			model = next
		}
		index++
		if got, want := seqsOf(allAudit(s.Read())), seqsOf(model); !slices.Equal(got, want) {
			t.Fatalf("step %d: stored events %v, model %v", step, got, want)
		}
		if rnd.IntN(25) == 0 {
			views = append(views, view{s.Read(), slices.Clone(model)})
		}
		checkViews(fmt.Sprintf("step %d", step))
		if step%100 == 99 {
			if diff := gocmp.Diff([]*structs.AuditEvent(model), allAudit(s.Read()), cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("step %d: stored events (-model +got):\n%s", step, diff)
			}
			checkAuditQueries(t, s.Read(), model)
			if len(views) > 0 {
				v := views[len(views)/2]
				checkAuditQueries(t, v.r, v.model)
			}
		}
		if step%100 == 49 {
			snap := persist(t, s)
			r := newStore(t)
			if err := r.Restore(bytes.NewReader(snap)); err != nil {
				t.Fatal(err)
			}
			if again := persist(t, r); !bytes.Equal(snap, again) {
				t.Fatalf("step %d: the restored trail saves to other bytes", step)
			}
			checkAuditQueries(t, r.Read(), model)
			s, restores = r, restores+1 // go on writing on the restored trail
		}
	}
	checkViews("the end")
	if len(model) < 3*auditTailCap || purged < auditTailCap || aborted == 0 || restores < 3 || len(views) < 5 {
		t.Fatalf("the run did not cover the index: %d events kept, %d purged, %d aborted, %d restores, %d views",
			len(model), purged, aborted, restores, len(views))
	}
	t.Logf("%d events kept, %d appended, %d purged, %d transactions aborted, %d restores, %d views", len(model), n, purged, aborted, restores, len(views))
}

func seqsOf(es []*structs.AuditEvent) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}
