package scheduler

import (
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestSchedulerProperties checks the scheduler's invariants on random
// clusters and queues.
func TestSchedulerProperties(t *testing.T) {
	iterations := 3000
	if testing.Short() {
		iterations = 300
	}
	for seed := int64(1); seed <= int64(iterations); seed++ {
		snap, gangs, opts := randomCase(rand.New(rand.NewSource(seed)))
		got := Schedule(snap, gangs, opts, t0.Add(time.Hour))
		if err := checkResult(snap, gangs, opts, got); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}

		// The inputs are untouched: compare with a second copy from the seed.
		snap2, gangs2, opts2 := randomCase(rand.New(rand.NewSource(seed)))
		if !reflect.DeepEqual(snap2, snap) {
			t.Fatalf("seed %d: snapshot modified:\n%s", seed, cmp.Diff(snap2, snap))
		}
		if !reflect.DeepEqual(gangs2, gangs) {
			t.Fatalf("seed %d: gangs modified:\n%s", seed, cmp.Diff(gangs2, gangs))
		}

		// Same input, same output; and the order of input slices does not matter.
		if again := Schedule(snap2, gangs2, opts2, t0.Add(time.Hour)); !reflect.DeepEqual(got, again) {
			t.Fatalf("seed %d: second run differs:\n%s", seed, cmp.Diff(got, again))
		}
		r := rand.New(rand.NewSource(-seed))
		r.Shuffle(len(snap2.Nodes), func(i, j int) { snap2.Nodes[i], snap2.Nodes[j] = snap2.Nodes[j], snap2.Nodes[i] })
		r.Shuffle(len(snap2.Pods), func(i, j int) { snap2.Pods[i], snap2.Pods[j] = snap2.Pods[j], snap2.Pods[i] })
		r.Shuffle(len(gangs2), func(i, j int) { gangs2[i], gangs2[j] = gangs2[j], gangs2[i] })
		if shuffled := Schedule(snap2, gangs2, opts2, t0.Add(time.Hour)); !reflect.DeepEqual(got, shuffled) {
			t.Fatalf("seed %d: shuffled input gives another result:\n%s", seed, cmp.Diff(got, shuffled))
		}

		if err := checkBackfillHead(snap, gangs, opts, got); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

// checkResult verifies one result against the invariants.
func checkResult(snap Snapshot, gangs []Gang, opts Options, got Result) error {
	nodes := map[string]*Node{}
	dup := map[string]bool{}
	for i := range snap.Nodes {
		n := &snap.Nodes[i]
		if nodes[n.Name] != nil {
			dup[n.Name] = true
		}
		nodes[n.Name] = n
	}
	byID := map[string]*Gang{}
	for i := range gangs {
		byID[gangs[i].ID] = &gangs[i]
	}

	// Every gang is answered exactly once, in queue order.
	seen := map[string]int{}
	for _, b := range got.Bindings {
		seen[b.GangID]++
	}
	for _, p := range got.Pending {
		seen[p.GangID]++
		if p.Reason == "" || p.Code == "" {
			return fmt.Errorf("gang %s pending without a reason", p.GangID)
		}
	}
	for _, g := range gangs {
		seen[g.ID]--
	}
	for id, k := range seen {
		if k != 0 {
			return fmt.Errorf("gang %q answered %+d times too many", id, k)
		}
	}

	used := map[string]Resources{}
	podCount := map[string]int64{}
	tenants := map[string]map[string]bool{}
	note := func(nodeName, tenant string, r Resources) {
		u := used[nodeName]
		u.Add(r)
		used[nodeName] = u
		podCount[nodeName]++
		if tenant != "" {
			if tenants[nodeName] == nil {
				tenants[nodeName] = map[string]bool{}
			}
			tenants[nodeName][tenant] = true
		}
	}
	for _, p := range snap.Pods {
		note(p.Node, p.Tenant, p.Requests)
	}
	before := map[string]map[string]bool{}
	for n, ts := range tenants {
		before[n] = map[string]bool{}
		for k := range ts {
			before[n][k] = true
		}
	}
	newTenants := map[string]map[string]bool{}
	for _, b := range got.Bindings {
		g := byID[b.GangID]
		if len(b.Nodes) != len(g.Pods) {
			return fmt.Errorf("gang %s: %d pods, %d placements (partial gang)", g.ID, len(g.Pods), len(b.Nodes))
		}
		var class float64
		for i, name := range b.Nodes {
			n := nodes[name]
			if n == nil || dup[name] {
				return fmt.Errorf("gang %s bound to unknown or ambiguous node %q", g.ID, name)
			}
			sp := g.Pods[i]
			if !admits(n, sp) {
				return fmt.Errorf("gang %s pod %d on %s violates taints, selector or cordon", g.ID, i, name)
			}
			if c := testCapacity(n.Allocatable, opts.Weights); i == 0 {
				class = c
			} else if math.Abs(c-class) > 1e-9*math.Max(1, math.Abs(c)) {
				return fmt.Errorf("gang %s spans weight classes %v and %v", g.ID, class, c)
			}
			note(name, g.Tenant, sp.Requests)
			if g.Tenant != "" {
				if newTenants[name] == nil {
					newTenants[name] = map[string]bool{}
				}
				newTenants[name][g.Tenant] = true
			}
		}
		if g.OnePodPerNode {
			distinct := slices.Compact(slices.Sorted(slices.Values(b.Nodes)))
			if len(distinct) != len(b.Nodes) {
				return fmt.Errorf("gang %s: one pod per node violated: %v", g.ID, b.Nodes)
			}
		}
	}

	for name, nts := range newTenants {
		n := nodes[name]
		free := n.Allocatable
		free.Sub(used[name])
		if !(Resources{}).FitsIn(free) {
			return fmt.Errorf("node %s over allocatable after binding: used %+v of %+v", name, used[name], n.Allocatable)
		}
		if n.Allocatable.Pods > 0 && podCount[name] > n.Allocatable.Pods {
			return fmt.Errorf("node %s has %d pods, room for %d", name, podCount[name], n.Allocatable.Pods)
		}
		if opts.TenantIsolation && len(nts) > 0 {
			all := map[string]bool{}
			for k := range before[name] {
				all[k] = true
			}
			for k := range nts {
				all[k] = true
			}
			if len(all) > 1 {
				return fmt.Errorf("tenant isolation violated on %s: %v", name, all)
			}
		}
	}
	// Nodes that got only tenant-less gangs are checked for capacity too.
	for _, b := range got.Bindings {
		for _, name := range b.Nodes {
			n := nodes[name]
			free := n.Allocatable
			free.Sub(used[name])
			if !(Resources{}).FitsIn(free) {
				return fmt.Errorf("node %s over allocatable after binding", name)
			}
			if n.Allocatable.Pods > 0 && podCount[name] > n.Allocatable.Pods {
				return fmt.Errorf("node %s has %d pods, room for %d", name, podCount[name], n.Allocatable.Pods)
			}
		}
	}

	// A homogeneous gang pending for want of resources really has no room
	// in any weight class, even after the cycle: nothing phantom holds it.
	for _, p := range got.Pending {
		g := byID[p.GangID]
		if p.Code != ReasonInsufficient || !homogeneous(g) {
			continue
		}
		room := map[float64]int64{}
		for name, n := range nodes {
			if dup[name] || !admits(n, g.Pods[0]) {
				continue
			}
			free := n.Allocatable
			free.Sub(used[name])
			k := testCopies(free, g.Pods[0].Requests, int64(len(g.Pods)))
			if n.Allocatable.Pods > 0 {
				k = min(k, n.Allocatable.Pods-podCount[name])
			}
			if g.OnePodPerNode {
				k = min(k, 1)
			}
			room[testCapacity(n.Allocatable, opts.Weights)] += max(k, 0)
		}
		for class, k := range room {
			if k >= int64(len(g.Pods)) {
				return fmt.Errorf("gang %s pending (%s) but class %v has room for %d pods", g.ID, p.Reason, class, k)
			}
		}
	}

	// Without backfill nothing is bound behind a blocked head.
	if !opts.Backfill {
		order := testQueue(gangs)
		bound := map[string]bool{}
		for _, b := range got.Bindings {
			bound[b.GangID] = true
		}
		code := map[string]ReasonCode{}
		for _, p := range got.Pending {
			code[p.GangID] = p.Code
		}
		blocked := ""
		for _, g := range order {
			if blocked != "" && bound[g.ID] {
				return fmt.Errorf("gang %s bound behind blocked head %s without backfill", g.ID, blocked)
			}
			switch code[g.ID] {
			case ReasonInsufficient, ReasonTenantIsolation:
				if blocked == "" {
					blocked = g.ID
				}
			}
		}
	}
	return nil
}

// checkBackfillHead verifies that backfill never takes what the head waits
// for: once our running pods end, the head fits beside other schedulers'
// pods and the gangs backfilled behind it.
func checkBackfillHead(snap Snapshot, gangs []Gang, opts Options, got Result) error {
	if !opts.Backfill {
		return nil
	}
	code := map[string]ReasonCode{}
	for _, p := range got.Pending {
		code[p.GangID] = p.Code
	}
	bindings := map[string]Binding{}
	for _, b := range got.Bindings {
		bindings[b.GangID] = b
	}
	var head *Gang
	var behind []Gang
	for _, g := range testQueue(gangs) {
		if head != nil {
			behind = append(behind, g)
			continue
		}
		switch code[g.ID] {
		case ReasonInsufficient, ReasonTenantIsolation:
			head = &g
		}
	}
	if head == nil || !homogeneous(head) {
		return nil
	}
	drained := Snapshot{Nodes: snap.Nodes}
	for _, p := range snap.Pods {
		if p.Tenant == "" {
			drained.Pods = append(drained.Pods, p)
		}
	}
	opts.Backfill, opts.MaxGangsPerCycle = false, 0
	if len(Schedule(drained, []Gang{*head}, opts, t0).Bindings) == 0 {
		return nil // pods of other schedulers block the head: nothing reserved
	}
	for _, g := range behind {
		if b, ok := bindings[g.ID]; ok {
			for i, name := range b.Nodes {
				drained.Pods = append(drained.Pods, Pod{Node: name, Requests: g.Pods[i].Requests, Tenant: g.Tenant})
			}
		}
	}
	if len(Schedule(drained, []Gang{*head}, opts, t0).Bindings) == 0 {
		return fmt.Errorf("backfilled gangs took nodes the head %s needs", head.ID)
	}
	return nil
}

func homogeneous(g *Gang) bool {
	for _, p := range g.Pods[1:] {
		if !reflect.DeepEqual(p, g.Pods[0]) {
			return false
		}
	}
	return true
}

// testQueue is an independent statement of the queue order.
func testQueue(gangs []Gang) []Gang {
	q := slices.Clone(gangs)
	slices.SortStableFunc(q, func(a, b Gang) int {
		switch {
		case a.Priority != b.Priority:
			return b.Priority - a.Priority
		case !a.Created.Equal(b.Created):
			return a.Created.Compare(b.Created)
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return q
}

// admits is an independent statement of the static filters.
func admits(n *Node, sp PodSpec) bool {
	for k, v := range sp.NodeSelector {
		if n.Labels[k] != v {
			return false
		}
		if _, ok := n.Labels[k]; !ok {
			return false
		}
	}
	tolerated := func(t Taint) bool {
		for _, tol := range sp.Tolerations {
			effectOK := tol.Effect == "" || tol.Effect == t.Effect
			keyOK := tol.Key == t.Key || (tol.Key == "" && tol.Operator == TolerationExists)
			valueOK := tol.Operator == TolerationExists || tol.Value == t.Value
			if effectOK && keyOK && valueOK {
				return true
			}
		}
		return false
	}
	if n.Unschedulable && !tolerated(Taint{Key: "node.kubernetes.io/unschedulable", Effect: TaintNoSchedule}) {
		return false
	}
	for _, t := range n.Taints {
		if t.Effect != TaintPreferNoSchedule && !tolerated(t) {
			return false
		}
	}
	return true
}

// testCapacity is an independent statement of the weighted capacity.
func testCapacity(r Resources, weights map[string]float64) float64 {
	w := func(name string, def float64) float64 {
		if v, ok := weights[name]; ok && v >= 0 {
			return v
		}
		if _, ok := weights[name]; ok {
			return 0
		}
		return def
	}
	c := w(ResourceCPU, 1)*float64(r.MilliCPU)/1000 +
		w(ResourceMemory, 1)*float64(r.Memory)/float64(1<<30) +
		w(ResourceGPU, 1)*float64(r.GPU) +
		w(ResourcePods, 0)*float64(r.Pods) +
		w(ResourceEphemeralStorage, 0)*float64(r.EphemeralStorage)/float64(1<<30)
	for k, v := range r.Extended {
		c += w(k, 1) * float64(v)
	}
	return c
}

// testCopies is how many times req fits into free, at most limit.
func testCopies(free, req Resources, limit int64) int64 {
	k := limit
	check := func(f, q int64) {
		if q > 0 {
			k = min(k, max(f, 0)/q)
		}
	}
	check(free.MilliCPU, req.MilliCPU)
	check(free.Memory, req.Memory)
	check(free.GPU, req.GPU)
	check(free.EphemeralStorage, req.EphemeralStorage)
	for name, q := range req.Extended {
		check(free.Extended[name], q)
	}
	return k
}
