package scheduler

import (
	"slices"
	"strconv"
	"strings"
)

// specGroup is a set of a gang's pods with equal requests and filters.
type specGroup struct {
	pod   int32 // a representative pod index
	count int
}

// diagnose explains why pl did not fit. fitsEmpty says whether it would
// fit on the cluster without pods, fitsBeside whether it would fit beside
// other schedulers' pods. Each group of equal pods is checked on its own,
// largest first; the first one that cannot be placed names the reason.
func (c *cycle) diagnose(pl *plan, fitsEmpty, fitsBeside bool) pendingWhy {
	var groups []specGroup
	for _, pi := range pl.order {
		pr := &pl.pods[pi]
		k := slices.IndexFunc(groups, func(g specGroup) bool {
			q := &pl.pods[g.pod]
			return q.sig == pr.sig && slices.Equal(q.req, pr.req)
		})
		if k >= 0 {
			groups[k].count++
		} else {
			groups = append(groups, specGroup{pod: pi, count: 1})
		}
	}
	for _, g := range groups {
		why, found := c.diagnoseGroup(pl, g, fitsEmpty)
		if !found {
			continue
		}
		// A gang that cannot fit even once our pods end must not be told
		// it waits for resources: only a lasting reason will do.
		switch {
		case fitsBeside,
			why.code == ReasonNoMatchingNode,
			why.code == ReasonLargerThanCluster,
			why.code == ReasonOtherSchedulers && fitsEmpty:
			return why
		}
	}
	if !fitsEmpty {
		return pendingWhy{ReasonLargerThanCluster, "larger than the cluster: its pods of different shapes cannot all be placed on nodes of one weight class"}
	}
	if !fitsBeside {
		return pendingWhy{ReasonOtherSchedulers, "pods of other schedulers leave too little room for its pods of different shapes on nodes of one weight class"}
	}
	return pendingWhy{ReasonInsufficient, "its pods of different shapes each find room, but not all together on nodes of one weight class"}
}

// sigStats are a signature's static facts, gathered for reasons on first
// use.
type sigStats struct {
	matched, nSel, nUnsched, nTaint int
	selector                        string // the node selector as text
	topTaint                        string // most frequent blocking taint
	topCount                        int
	maxAlloc                        []int64 // per dimension, over usable nodes
}

func (c *cycle) stats(sig int32) *sigStats {
	s := c.sigs[sig]
	if s.stats != nil {
		return s.stats
	}
	R := c.l.dims
	st := &sigStats{maxAlloc: make([]int64, R), selector: selectorText(s.sel)}
	taints := map[string]int{}
	for n, node := range c.nodes {
		switch s.mask[n] {
		case verdictSelector:
			st.nSel++
		case verdictUnschedulable:
			st.nUnsched++
		case verdictTaint:
			st.nTaint++
			if _, ti := judge(node, s.sel, s.tols); ti >= 0 {
				taints[taintText(node.Taints[ti])]++
			}
		default:
			st.matched++
			for d, q := range c.alloc[n*R : (n+1)*R] {
				st.maxAlloc[d] = max(st.maxAlloc[d], q)
			}
		}
	}
	for t, k := range taints {
		if k > st.topCount || (k == st.topCount && t < st.topTaint) {
			st.topTaint, st.topCount = t, k
		}
	}
	s.stats = st
	return st
}

// diagnoseGroup checks one group; found is false when the group alone
// would fit now. Only the checks that can matter are run: the empty
// cluster only when the gang does not fit there, other schedulers' pods by
// a placement on the pool they leave, and the room now by scanning the
// nodes whose weighted free capacity could hold a pod at all.
func (c *cycle) diagnoseGroup(pl *plan, g specGroup, fitsEmpty bool) (why pendingWhy, found bool) {
	pr := &pl.pods[g.pod]
	s := c.sigs[pr.sig]
	st := c.stats(pr.sig)
	onePer := pl.onePer
	need, lim := g.count, g.count
	if onePer {
		lim = 1
	}
	if st.matched == 0 {
		return pendingWhy{ReasonNoMatchingNode, noMatchText(len(c.nodes), st)}, true
	}

	req := c.l.describe(pr.req)
	filtered := st.nSel+st.nUnsched+st.nTaint > 0
	qual := ""
	if need > 1 && len(c.classes) > 1 {
		qual = " on nodes of one weight class"
	}
	var needs string
	switch {
	case need == 1:
		needs = "needs one node with " + req + " free"
	case onePer:
		needs = "needs " + strconv.Itoa(need) + " nodes with " + req + " free" + qual
	default:
		needs = "needs room for " + strconv.Itoa(need) + " pods of " + req + qual
	}
	// have says how much of the need is met now: "5 fit", "room for 3".
	have := func(k int) string {
		switch {
		case need == 1:
			return "no node has that free now"
		case onePer:
			return strconv.Itoa(k) + " fit"
		}
		return "room for " + strconv.Itoa(k)
	}
	// besides adds have to a reason that names another cause.
	besides := func(k int) string {
		if need == 1 {
			return needs
		}
		return needs + ", " + have(k)
	}

	if !fitsEmpty {
		if top, sum := c.room(c.alloc, pr, lim); top < need {
			return pendingWhy{ReasonLargerThanCluster, c.largerText(pr, need, onePer, top, sum, filtered, st)}, true
		}
	}
	if !c.groupFits(c.besidePool(), pr, need, onePer) {
		top, _ := c.room(c.foreign, pr, lim)
		return pendingWhy{ReasonOtherSchedulers, needs + "; pods of other schedulers leave " + roomText(need, onePer, top)}, true
	}

	R := c.l.dims
	isolate := c.opts.TenantIsolation && pl.tenant >= 0
	nowRoom := make([]int, len(c.classes))
	isoRoom := make([]int, len(c.classes))
	resRoom := make([]int, len(c.classes))
	isoNodes, resNodes := 0, 0
	for ci := range c.classes {
		ord := c.now.order[ci]
		for _, n := range ord[c.now.firstAtLeast(ci, pr.w):] {
			if s.mask[n] > verdictPrefer {
				continue
			}
			k := copies(c.now.free[int(n)*R:], pr.req, lim)
			switch {
			case k == 0:
			case isolate && c.now.tenant[n] != tenantNone && c.now.tenant[n] != pl.tenant:
				isoRoom[ci] += k
				isoNodes++
			default:
				nowRoom[ci] += k
			}
		}
	}
	for _, n := range c.reservedList {
		if s.mask[n] > verdictPrefer {
			continue
		}
		if k := copies(c.now.free[int(n)*R:], pr.req, lim); k > 0 {
			resRoom[c.classOf[n]] += k
			resNodes++
		}
	}
	best := func(parts ...[]int) int {
		top := 0
		for ci := range c.classes {
			v := 0
			for _, p := range parts {
				v += p[ci]
			}
			top = max(top, v)
		}
		return top
	}
	now := best(nowRoom)
	switch {
	case now >= need:
		return pendingWhy{}, false
	case isoNodes > 0 && best(nowRoom, isoRoom) >= need:
		return pendingWhy{ReasonTenantIsolation, "tenant isolation: " + plural(isoNodes, "node") + " with room used by other tenants; " + besides(now)}, true
	case resNodes > 0 && best(nowRoom, isoRoom, resRoom) >= need:
		return pendingWhy{ReasonReserved, plural(resNodes, "node") + " with room reserved for job " + c.headID + ", ahead in the queue; " + besides(now)}, true
	}
	return pendingWhy{ReasonInsufficient, needs + "; " + have(now)}, true
}

// room scans every usable node's vector in vecs and returns the most
// copies of pr (each node holding at most lim) one class has, and the sum
// over all classes.
func (c *cycle) room(vecs []int64, pr *podReq, lim int) (top, sum int) {
	R := c.l.dims
	s := c.sigs[pr.sig]
	per := make([]int, len(c.classes))
	for n := range c.nodes {
		if s.mask[n] <= verdictPrefer {
			per[c.classOf[n]] += copies(vecs[n*R:], pr.req, lim)
		}
	}
	for _, v := range per {
		top, sum = max(top, v), sum+v
	}
	return top, sum
}

// groupFits reports whether need copies of pr fit in pool p.
func (c *cycle) groupFits(p *pool, pr *podReq, need int, onePer bool) bool {
	gp := &c.groupPlan
	gp.pods = gp.pods[:0]
	gp.order = gp.order[:0]
	for i := range need {
		gp.pods = append(gp.pods, *pr)
		gp.order = append(gp.order, int32(i))
	}
	gp.nodes = slices.Grow(gp.nodes[:0], need)[:need]
	gp.prev = slices.Grow(gp.prev[:0], need)[:need]
	gp.sigs = append(gp.sigs[:0], sigUse{sig: pr.sig, pods: need})
	gp.soft = c.sigs[pr.sig].soft
	gp.onePer = onePer
	gp.tenant = tenantNone
	return c.place(p, gp, false)
}

// largerText explains a group that would not fit on the empty cluster.
func (c *cycle) largerText(pr *podReq, need int, onePer bool, top, sum int, filtered bool, st *sigStats) string {
	if sum == 0 {
		return c.tooBigText(pr.req, st.maxAlloc, filtered)
	}
	req := c.l.describe(pr.req)
	var b strings.Builder
	b.WriteString("larger than the cluster: ")
	if onePer {
		b.WriteString("needs " + strconv.Itoa(need) + " nodes with " + req + ", ")
		if filtered {
			b.WriteString(strconv.Itoa(sum) + " matching nodes are large enough")
		} else {
			b.WriteString("cluster has " + strconv.Itoa(sum))
		}
	} else {
		b.WriteString("needs room for " + strconv.Itoa(need) + " pods of " + req + ", the cluster has room for " + strconv.Itoa(sum))
	}
	if top < sum {
		b.WriteString(", at most " + strconv.Itoa(top) + " in one weight class")
	}
	return b.String()
}

// roomText says how much room other schedulers' pods leave.
func roomText(need int, onePer bool, k int) string {
	switch {
	case need == 1:
		return "no node with that room"
	case onePer:
		return "only " + plural(k, "such node")
	}
	return "room for only " + strconv.Itoa(k)
}

// noMatchText explains why the static filters rejected every node.
func noMatchText(nodes int, st *sigStats) string {
	switch {
	case nodes == 0:
		return "the cluster has no usable nodes"
	case st.nSel == nodes:
		return "no node matches node selector " + st.selector
	case st.nUnsched == nodes:
		return "all " + plural(nodes, "node") + " are unschedulable"
	case st.nTaint == nodes && st.topCount == nodes:
		return "no node tolerated: every node has taint " + st.topTaint
	case st.nTaint == nodes:
		return "no node tolerated: " + plural(st.topCount, "node") + " have taint " + st.topTaint + ", the rest other taints"
	}
	var parts []string
	if st.nSel > 0 {
		parts = append(parts, strconv.Itoa(st.nSel)+" fail node selector "+st.selector)
	}
	if st.nTaint > 0 {
		parts = append(parts, strconv.Itoa(st.nTaint)+" have untolerated taints (most often "+st.topTaint+")")
	}
	if st.nUnsched > 0 {
		parts = append(parts, strconv.Itoa(st.nUnsched)+" are unschedulable")
	}
	return "no node matches: " + strings.Join(parts, ", ")
}

// tooBigText explains a pod that no single matching node could hold.
func (c *cycle) tooBigText(req, maxAlloc []int64, filtered bool) string {
	which := "node"
	if filtered {
		which = "matching node"
	}
	var missing, short []string
	for d, q := range req {
		switch {
		case q <= maxAlloc[d]:
		case maxAlloc[d] == 0:
			missing = append(missing, c.l.kind(d))
		default:
			short = append(short, c.l.quantity(d, maxAlloc[d]))
		}
	}
	if len(missing) > 0 {
		return "no " + which + " has " + strings.Join(missing, " or ")
	}
	return "larger than any node: needs " + c.l.describe(req) + "; no " + which + " has more than " + strings.Join(short, ", ")
}

// describe renders a request vector for people.
func (l *layout) describe(v []int64) string {
	var parts []string
	for d, q := range v {
		if q == 0 || (d == dimPods && q == 1) {
			continue
		}
		parts = append(parts, l.quantity(d, q))
	}
	if len(parts) == 0 {
		return "a pod slot"
	}
	return strings.Join(parts, ", ")
}

// quantity renders q of dimension d.
func (l *layout) quantity(d int, q int64) string {
	switch d {
	case dimCPU:
		if q%1000 == 0 {
			return plural(int(q/1000), "core")
		}
		return strconv.FormatFloat(float64(q)/1000, 'f', -1, 64) + " cores"
	case dimMemory:
		return bytesText(q)
	case dimGPU:
		return plural(int(q), "GPU")
	case dimPods:
		return plural(int(q), "pod slot")
	case dimEphemeral:
		return bytesText(q) + " ephemeral storage"
	}
	return strconv.FormatInt(q, 10) + " " + l.names[d]
}

// kind names dimension d as a kind of resource.
func (l *layout) kind(d int) string {
	switch d {
	case dimCPU:
		return "CPU"
	case dimMemory:
		return "memory"
	case dimGPU:
		return "GPUs"
	case dimPods:
		return "pod slots"
	case dimEphemeral:
		return "ephemeral storage"
	}
	return l.names[d]
}

func bytesText(q int64) string {
	const mib = 1 << 20
	switch {
	case q%gib == 0:
		return strconv.FormatInt(q/gib, 10) + " GiB"
	case q >= gib:
		return strconv.FormatFloat(float64(q)/gib, 'f', 1, 64) + " GiB"
	case q%mib == 0:
		return strconv.FormatInt(q/mib, 10) + " MiB"
	case q >= mib:
		return strconv.FormatFloat(float64(q)/mib, 'f', 1, 64) + " MiB"
	}
	return strconv.FormatInt(q, 10) + " bytes"
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
