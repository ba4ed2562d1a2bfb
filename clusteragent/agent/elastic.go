package agent

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/elastic"
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// LabelMachineType is the node label naming a node's machine type: the
// label cloud node groups put on their nodes and machine types select.
const LabelMachineType = "flotilla.io/machine-type"

// NodeGroups are the cloud's node groups of this cluster, as the elastic
// loop uses them (federation/cloud/connect.NodeGroups on EKS and GKE).
type NodeGroups interface {
	// Size is the group's size as last asked of the cloud, -1 if the
	// cloud does not say (the loop counts the group's nodes).
	Size(ctx context.Context, group string) (int, error)
	// Resize asks the cloud for size nodes and waits until it is done.
	Resize(ctx context.Context, group string, size int) error
}

// ElasticGroup is one elastic node group: the cloud's group and the
// machine type its nodes carry (label LabelMachineType).
type ElasticGroup struct {
	Name, MachineType string
	Min, Max          int
}

// Elastic configures the agent's elastic node groups.
type Elastic struct {
	Groups []ElasticGroup
	// IdleTime: a group that runs no job pod this long shrinks to its
	// minimum (default 10 min).
	IdleTime time.Duration
	// Interval between decisions (default 5 s).
	Interval time.Duration
	Cloud    NodeGroups
}

// elasticLoop decides and carries out the groups' sizes: each cycle it
// builds the groups and pending gangs from the cache, asks
// clusteragent/elastic, and resizes the groups that change (one resize per
// group at a time, in the background).
type elasticLoop struct {
	cfg     Elastic
	cache   *cache.Cache
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	// arriving reports whether a job the agent took (ASSIGNED) has no
	// pending gang in the cache yet (its pods are being made), given the
	// job numbers of the pending gangs: then no group shrinks this cycle.
	arriving func(pending map[uint64]bool) bool

	mu        sync.Mutex
	sizes     map[string]int // group → size last asked (absent: not known yet)
	joined    map[string]int // group → its nodes in the cluster at the last cycle
	idleSince map[string]time.Time
	resizing  map[string]bool
	reasons   map[string]string // gang ID → why no growth serves it
}

func newElasticLoop(cfg Elastic, c *cache.Cache, log *slog.Logger, now func() time.Time, m *metrics, arriving func(map[uint64]bool) bool) *elasticLoop {
	if cfg.IdleTime <= 0 {
		cfg.IdleTime = 10 * time.Minute
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	return &elasticLoop{cfg: cfg, cache: c, log: log, now: now, metrics: m, arriving: arriving, sizes: map[string]int{}, joined: map[string]int{},
		idleSince: map[string]time.Time{}, resizing: map[string]bool{}, reasons: map[string]string{}}
}

// Run decides every interval until ctx ends; resizes in flight end with it.
func (l *elasticLoop) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(l.cfg.Interval)
	defer t.Stop()
	for {
		if l.cache.Synced() {
			l.cycle(ctx, &wg)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (l *elasticLoop) cycle(ctx context.Context, wg *sync.WaitGroup) {
	snap, gangs, _ := l.cache.Snapshot()
	now := l.now()
	numbers := make(map[uint64]bool, len(gangs))
	for _, g := range gangs {
		numbers[g.ID.Number] = true
	}
	hold := l.arriving != nil && l.arriving(numbers)
	groups := make([]elastic.Group, 0, len(l.cfg.Groups))
	for _, g := range l.cfg.Groups {
		nodes, busy := groupNodes(snap, g.MachineType)
		l.mu.Lock()
		l.joined[g.Name] = nodes
		inflight := l.resizing[g.Name]
		size, known := l.sizes[g.Name]
		l.mu.Unlock()
		if inflight {
			continue
		}
		if !known {
			s, err := l.cfg.Cloud.Size(ctx, g.Name)
			if err != nil {
				l.log.Warn("elastic: reading node group size", "group", g.Name, "err", err)
				continue
			}
			if s < 0 {
				s = nodes
			}
			size = s
			l.mu.Lock()
			l.sizes[g.Name] = s
			l.mu.Unlock()
			l.metrics.groupSize.WithLabelValues(g.Name).Set(float64(s))
		}
		l.mu.Lock()
		switch {
		case busy > 0:
			delete(l.idleSince, g.Name)
		case l.idleSince[g.Name].IsZero():
			l.idleSince[g.Name] = now
		}
		idle := l.idleSince[g.Name]
		l.mu.Unlock()
		if hold {
			idle = time.Time{} // not idle for the decision: a job is arriving
		}
		groups = append(groups, elastic.Group{Name: g.Name, MachineType: g.MachineType, Size: size, Min: g.Min, Max: g.Max,
			Busy: busy, IdleSince: idle})
	}
	d := elastic.Decide(groups, pendingGangs(gangs), now, elastic.Options{IdleTime: l.cfg.IdleTime})
	l.mu.Lock()
	l.reasons = d.Reasons
	l.mu.Unlock()
	names := make([]string, 0, len(d.Sizes))
	for n := range d.Sizes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		l.resize(ctx, wg, name, d.Sizes[name])
	}
}

// resize asks the cloud for the group's new size in the background.
func (l *elasticLoop) resize(ctx context.Context, wg *sync.WaitGroup, group string, size int) {
	l.mu.Lock()
	from := l.sizes[group]
	l.sizes[group], l.resizing[group] = size, true
	l.mu.Unlock()
	dir := "up"
	if size < from {
		dir = "down"
	}
	l.log.Info("elastic: resizing node group", "group", group, "from", from, "to", size)
	l.metrics.resizes.WithLabelValues(group, dir).Inc()
	l.metrics.groupSize.WithLabelValues(group).Set(float64(size))
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := l.now()
		err := l.cfg.Cloud.Resize(ctx, group, size)
		l.mu.Lock()
		delete(l.resizing, group)
		if err != nil {
			delete(l.sizes, group) // read it again next cycle
		}
		l.mu.Unlock()
		if err != nil {
			if ctx.Err() == nil {
				l.metrics.resizeFailures.WithLabelValues(group).Inc()
				l.log.Warn("elastic: resizing node group failed", "group", group, "to", size, "err", err)
			}
			return
		}
		l.log.Info("elastic: node group resized", "group", group, "size", size, "took", l.now().Sub(start).Round(time.Millisecond))
	}()
}

// Reason is why no growth serves a pending gang, if that is so.
func (l *elasticLoop) Reason(gang cache.GangID) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.reasons[gang.String()]
	return r, ok
}

// Grow is how many nodes each elastic machine type can still add beyond
// the nodes it has in snap, for the capacity report built from the same
// snapshot (whose free and total count only joined nodes, so nodes asked
// for but not yet joined count here). Counting from the report's own
// snapshot, not from the loop's last cycle, keeps a node that joined
// between cycles from counting twice, as a free node and as room to grow:
// the hub would send a job the group can never hold.
func (l *elasticLoop) Grow(snap scheduler.Snapshot) map[string]int {
	out := map[string]int{}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, g := range l.cfg.Groups {
		if _, ok := l.joined[g.Name]; !ok {
			continue // not seen yet: claim nothing
		}
		joined, _ := groupNodes(snap, g.MachineType)
		out[g.MachineType] += max(g.Max-joined, 0)
	}
	return out
}

// groupNodes counts a machine type's nodes and those running or bound to
// job pods (pods with a tenant: the agent's own).
func groupNodes(snap scheduler.Snapshot, machineType string) (nodes, busy int) {
	in := map[string]bool{}
	for _, n := range snap.Nodes {
		if n.Labels[LabelMachineType] == machineType {
			in[n.Name] = true
		}
	}
	used := map[string]bool{}
	for _, p := range snap.Pods {
		if p.Tenant != "" && in[p.Node] {
			used[p.Node] = true
		}
	}
	return len(in), len(used)
}

// pendingGangs are the gangs waiting for nodes, with their machine type
// (the pods' node selector) and one node per pod.
func pendingGangs(gangs []cache.PendingGang) []elastic.Gang {
	out := make([]elastic.Gang, 0, len(gangs))
	for _, g := range gangs {
		if len(g.Gang.Pods) == 0 {
			continue
		}
		mt := g.Gang.Pods[0].NodeSelector[LabelMachineType]
		if mt == "" {
			continue
		}
		out = append(out, elastic.Gang{Job: g.Gang.ID, MachineType: mt, Nodes: len(g.Gang.Pods)})
	}
	return out
}

// withGrow adds the elastic groups' room to grow to a capacity report.
func withGrow(cp map[string]structs.Capacity, grow map[string]int) map[string]structs.Capacity {
	for mt, n := range grow {
		c, ok := cp[mt]
		if !ok {
			continue // a machine type the hub does not have
		}
		c.Grow = n
		cp[mt] = c
	}
	return cp
}

// ParseElasticGroups reads "group=machine-type:min:max,..." (the cloud's
// node group name, the machine type its nodes carry, its bounds).
func ParseElasticGroups(s string) ([]ElasticGroup, error) {
	var out []ElasticGroup
	seen := map[string]bool{}
	for _, item := range splitList(s) {
		bad := fmt.Errorf("elastic group %q: want group=machine-type:min:max with 0 ≤ min ≤ max and max ≥ 1", item)
		name, rest, ok := strings.Cut(item, "=")
		parts := strings.Split(rest, ":")
		if !ok || name == "" || len(parts) != 3 || parts[0] == "" || seen[name] {
			return nil, bad
		}
		lo, err1 := strconv.Atoi(parts[1])
		hi, err2 := strconv.Atoi(parts[2])
		if err1 != nil || err2 != nil || lo < 0 || hi < 1 || lo > hi {
			return nil, bad
		}
		seen[name] = true
		out = append(out, ElasticGroup{Name: name, MachineType: parts[0], Min: lo, Max: hi})
	}
	return out, nil
}
