package jobs

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/policy/access"
)

// compiledSnap is a read transaction with its access rules compiled once,
// as the hub's admission view holds them.
type compiledSnap struct {
	*state.ReadTxn
	compiled *access.Rules
}

func (s compiledSnap) CompiledAccessRules() (*access.Rules, error) { return s.compiled, nil }

func compiledOf(t testing.TB, r *state.ReadTxn) compiledSnap {
	t.Helper()
	rules, err := r.AccessRules()
	if err != nil {
		t.Fatal(err)
	}
	return compiledSnap{ReadTxn: r, compiled: access.New(rules)}
}

// TestAdmitCompiledRules: a snapshot that holds its access rules compiled
// admits every case of the admission table as a plain one does (the same
// job, or the same refusal), and Admit checks against the compiled rules
// it offers, not the rules' records.
func TestAdmitCompiledRules(t *testing.T) {
	st := world(t)
	snap := compiledOf(t, st.Read())
	for name, tc := range admitCases() {
		t.Run(name, func(t *testing.T) {
			r1, r2 := tc.req, tc.req
			plain, perr := Admit(st.Read(), callers[tc.caller], &r1, now)
			comp, cerr := Admit(snap, callers[tc.caller], &r2, now)
			if (perr == nil) != (cerr == nil) || (perr != nil && perr.Error() != cerr.Error()) {
				t.Fatalf("plain snapshot: %v; compiled: %v", perr, cerr)
			}
			if diff := cmp.Diff(plain, comp); diff != "" {
				t.Errorf("admission (-plain +compiled):\n%s", diff)
			}
		})
	}

	// Rules compiled apart from the records decide: a rule that only the
	// compiled set holds refuses the submission.
	deny := access.New([]*structs.AccessRule{{Name: "nobody-solves", Object: structs.AccessObjectApp, Match: "solver",
		Groups: []string{"nobody"}}})
	r := req("solver", "n3", 1)
	_, err := Admit(compiledSnap{ReadTxn: st.Read(), compiled: deny}, callers["alice"], &r, now)
	var denied *access.DeniedError
	if !errors.As(err, &denied) || denied.Rule != "nobody-solves" {
		t.Errorf("Admit with a denying compiled rule = %v, want a denial by nobody-solves", err)
	}
}

// TestAdmitAllocations bounds what admitting a plain submission allocates
// on a snapshot with compiled rules (the job is built in its command;
// the rules are not compiled per call).
func TestAdmitAllocations(t *testing.T) {
	st := world(t)
	snap := compiledOf(t, st.Read())
	caller := callers["bob"]
	allocs := testing.AllocsPerRun(200, func() {
		r := req("solver", "n3", 1)
		if _, err := Admit(snap, caller, &r, now); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%.0f allocations per admission", allocs)
	if allocs > admitAllocBound {
		t.Errorf("%.0f allocations per admission, want at most %d", allocs, admitAllocBound)
	}
}

// BenchmarkAdmit: one plain submission's admission, on a snapshot that
// compiles its access rules per call and on one that holds them compiled.
func BenchmarkAdmit(b *testing.B) {
	st := world(b)
	for name, snap := range map[string]Snapshot{"plain": st.Read(), "compiled": compiledOf(b, st.Read())} {
		b.Run(name, func(b *testing.B) {
			caller := callers["bob"]
			b.ReportAllocs()
			for b.Loop() {
				r := req("solver", "n3", 1)
				if _, err := Admit(snap, caller, &r, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// admitAllocBound: 20 with the rules compiled once and the job built in
// its command (43 before: the rules compiled per call, the job copied).
const admitAllocBound = 24
