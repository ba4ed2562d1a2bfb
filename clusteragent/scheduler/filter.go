package scheduler

import (
	"slices"
	"strings"
)

// unschedulableTaintKey is the taint Kubernetes puts on cordoned nodes; a
// pod tolerating it may go to an unschedulable node.
const unschedulableTaintKey = "node.kubernetes.io/unschedulable"

// tolerates reports whether one of tols matches taint t.
func tolerates(tols []Toleration, t Taint) bool {
	for i := range tols {
		tol := &tols[i]
		if tol.Effect != "" && tol.Effect != t.Effect {
			continue
		}
		switch tol.Operator {
		case TolerationExists:
			if tol.Key == "" || tol.Key == t.Key {
				return true
			}
		case TolerationEqual, "":
			if tol.Key == t.Key && tol.Value == t.Value {
				return true
			}
		}
	}
	return false
}

// verdict is a node's static fitness for a pod spec. The order matters:
// values up to verdictPrefer are usable, and the scan compares against a
// ceiling.
type verdict uint8

const (
	verdictOK            verdict = iota
	verdictPrefer                // usable, but has an untolerated PreferNoSchedule taint
	verdictSelector              // node selector does not match
	verdictUnschedulable         // cordoned, not tolerated
	verdictTaint                 // untolerated NoSchedule or NoExecute taint
)

// judge returns the verdict of node n for a pod with the given selector and
// tolerations, and for verdictTaint the index of the first blocking taint.
func judge(n *Node, sel map[string]string, tols []Toleration) (verdict, int) {
	for k, v := range sel {
		if lv, ok := n.Labels[k]; !ok || lv != v {
			return verdictSelector, -1
		}
	}
	if n.Unschedulable && !tolerates(tols, Taint{Key: unschedulableTaintKey, Effect: TaintNoSchedule}) {
		return verdictUnschedulable, -1
	}
	res := verdictOK
	for i, t := range n.Taints {
		if tolerates(tols, t) {
			continue
		}
		switch t.Effect {
		case TaintPreferNoSchedule:
			res = verdictPrefer
		default: // NoSchedule, NoExecute, and any effect we do not know
			return verdictTaint, i
		}
	}
	return res, -1
}

// signature is the static feasibility of every node for one combination of
// node selector and tolerations, computed once per cycle.
type signature struct {
	sel  map[string]string
	tols []Toleration
	// mask[n] is node n's verdict.
	mask []verdict
	// usable[c] counts nodes of class c with a usable verdict; strict[c]
	// those with verdictOK.
	usable, strict []int
	// sparse[c], when not nil, lists the usable nodes of class c in rank
	// order; set when they are few enough that scanning them beats the
	// class-wide scan.
	sparse [][]int32
	// soft: some usable node has verdictPrefer.
	soft bool
	// stats is filled in when a reason needs it.
	stats *sigStats
}

// sigKey returns a canonical key for a selector and tolerations; "" when
// both are empty.
func sigKey(sel map[string]string, tols []Toleration) string {
	if len(sel) == 0 && len(tols) == 0 {
		return ""
	}
	parts := make([]string, 0, len(sel))
	for k, v := range sel {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p)
		b.WriteByte(0)
	}
	b.WriteByte(1)
	parts = parts[:0]
	for _, t := range tols {
		op := t.Operator
		if op == "" {
			op = TolerationEqual
		}
		parts = append(parts, t.Key+"\x00"+string(op)+"\x00"+t.Value+"\x00"+string(t.Effect))
	}
	slices.Sort(parts)
	for _, p := range parts {
		b.WriteString(p)
		b.WriteByte(1)
	}
	return b.String()
}

// signature returns the index of the signature for a pod spec, building it
// on first use.
func (c *cycle) signature(sp *PodSpec) int32 {
	key := sigKey(sp.NodeSelector, sp.Tolerations)
	if i, ok := c.sigIndex[key]; ok {
		return i
	}
	s := &signature{
		sel:    sp.NodeSelector,
		tols:   sp.Tolerations,
		mask:   make([]verdict, len(c.nodes)),
		usable: make([]int, len(c.classes)),
		strict: make([]int, len(c.classes)),
		sparse: make([][]int32, len(c.classes)),
	}
	for n := range c.nodes {
		v, _ := judge(c.nodes[n], sp.NodeSelector, sp.Tolerations)
		s.mask[n] = v
		if v <= verdictPrefer {
			cl := c.classOf[n]
			s.usable[cl]++
			if v == verdictOK {
				s.strict[cl]++
			} else {
				s.soft = true
			}
		}
	}
	for cl := range c.classes {
		members := c.classes[cl].nodes
		if s.usable[cl] == 0 || s.usable[cl]*sparseRatio >= len(members) {
			continue
		}
		list := make([]int32, 0, s.usable[cl])
		for _, n := range members {
			if s.mask[n] <= verdictPrefer {
				list = append(list, n)
			}
		}
		s.sparse[cl] = list
	}
	i := int32(len(c.sigs))
	c.sigs = append(c.sigs, s)
	c.sigIndex[key] = i
	return i
}

// sparseRatio: a signature matching fewer than 1/sparseRatio of a class's
// nodes is scanned through its own node list.
const sparseRatio = 4

// selectorText renders a node selector as sorted k=v pairs.
func selectorText(sel map[string]string) string {
	parts := make([]string, 0, len(sel))
	for k, v := range sel {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// taintText renders a taint as key=value:Effect.
func taintText(t Taint) string {
	s := t.Key
	if t.Value != "" {
		s += "=" + t.Value
	}
	return s + ":" + string(t.Effect)
}
