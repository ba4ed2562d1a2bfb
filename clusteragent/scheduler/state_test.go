package scheduler

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestStateMatchesSchedule: a State changed a node at a time decides, pass
// after pass, exactly what Schedule decides on the same cluster built
// fresh: the passes' own assumptions and reservations are undone, pods
// come and go (the bindings of the last pass, random ones, a resource no
// node declares), and the options change between passes.
func TestStateMatchesSchedule(t *testing.T) {
	for seed := int64(1); seed <= 400; seed++ {
		r := rand.New(rand.NewSource(seed))
		snap, gangs, opts := randomCase(r)
		st := NewState(snap.Nodes, opts)
		byNode := map[string][]Pod{}
		for _, p := range snap.Pods {
			byNode[p.Node] = append(byNode[p.Node], p)
		}
		for n, pods := range byNode {
			st.SetLoads(n, pods)
		}
		now := t0.Add(20 * time.Minute)
		for step := range 8 {
			o := opts
			if step > 0 {
				o.TenantIsolation, o.Backfill = r.Intn(2) == 0, r.Intn(2) == 0
			}
			queue := gangs[:r.Intn(len(gangs)+1)]
			got := st.Schedule(queue, o, now)
			want := Schedule(st.Snapshot(), queue, o, now)
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("seed %d step %d: State.Schedule differs from Schedule (-fresh +state):\n%s", seed, step, d)
			}
			// The bound gangs' pods arrive on their nodes, as the agent
			// assumes them; some gangs are not (a pre-placed pass binds
			// only the gangs asking, not those waiting beside them).
			byID := map[string]*Gang{}
			for i := range queue {
				byID[queue[i].ID] = &queue[i]
			}
			for _, b := range got.Bindings {
				g := byID[b.GangID]
				if r.Intn(3) == 0 {
					continue
				}
				for i, n := range b.Nodes {
					st.SetLoads(n, append(cloneLoads(st.loads[n]), Pod{Requests: g.Pods[i].Requests, Tenant: g.Tenant}))
				}
			}
			// Pods end, other pods start (now and then one naming a
			// resource no node has), on random nodes.
			for range r.Intn(4) {
				if len(snap.Nodes) == 0 {
					break
				}
				n := snap.Nodes[r.Intn(len(snap.Nodes))].Name
				pods := cloneLoads(st.loads[n])
				switch {
				case len(pods) > 0 && r.Intn(2) == 0:
					pods = append(pods[:0:0], pods[1:]...)
				default:
					p := Pod{Requests: res(int64(r.Intn(4)), int64(r.Intn(8)), 0), Tenant: []string{"", "acme", "globex"}[r.Intn(3)]}
					if r.Intn(8) == 0 {
						p.Requests.Extended = map[string]int64{fmt.Sprintf("fpga/%d", r.Intn(2)): 1}
					}
					pods = append(pods, p)
				}
				st.SetLoads(n, pods)
			}
			now = now.Add(time.Minute)
		}
	}
}

func cloneLoads(p []Pod) []Pod { return append([]Pod(nil), p...) }
