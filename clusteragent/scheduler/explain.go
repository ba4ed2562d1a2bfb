package scheduler

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// explainNodes is how many node names Explain lists before summarising.
const explainNodes = 8

// Explain is a dry run for one gang: it says where the gang would go if it
// were alone at the head of the queue, or why it cannot go anywhere now.
// It runs the same code as Schedule. To see a gang's reason in the context
// of the whole queue, read its Pending entry from Schedule.
func Explain(snap Snapshot, g Gang, opts Options) string {
	gangs := []Gang{g}
	c := newCycle(&snap, gangs, opts)
	res := c.run(gangs, time.Time{})
	if len(res.Pending) > 0 {
		return res.Pending[0].Reason
	}
	names := sortedNames(res.Bindings[0].Nodes)
	var b strings.Builder
	b.WriteString("fits now: ")
	b.WriteString(plural(len(g.Pods), "pod"))
	b.WriteString(" on ")
	b.WriteString(plural(len(names), "node"))
	b.WriteString(" (")
	shown := names[:min(len(names), explainNodes)]
	b.WriteString(strings.Join(shown, ", "))
	if rest := len(names) - len(shown); rest > 0 {
		b.WriteString(", and " + strconv.Itoa(rest) + " more")
	}
	b.WriteString(")")
	return b.String()
}

// sortedNames returns the distinct names in order.
func sortedNames(names []string) []string {
	out := slices.Clone(names)
	slices.Sort(out)
	return slices.Compact(out)
}
