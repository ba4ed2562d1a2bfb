// Package elastic decides the sizes of a cloud cluster's node groups (EKS
// node groups, GKE node pools), purely: the groups as they are, the gangs
// waiting for a machine type and the time in, the sizes to ask the cloud
// for and a reason for every gang no size can serve out. A group grows by
// a whole gang at once, never beyond its maximum and never by part of a
// gang; a group without work for the admin-set idle time shrinks back to
// its minimum. The agent's elastic loop (clusteragent/agent/elastic.go)
// feeds it and carries out its sizes through the cloud's resize call.
package elastic

import (
	"fmt"
	"time"
)

// Group is one node group as the cluster and the cloud show it.
type Group struct {
	Name        string
	MachineType string
	// Size is the size last asked of the cloud; Min and Max bound it.
	Size, Min, Max int
	// Busy counts the group's nodes that run (or are bound to) job pods.
	Busy int
	// IdleSince is when the group last ran no job pod (zero: busy now).
	IdleSince time.Time
}

// Gang is a pending gang: a job needing Nodes nodes of a machine type
// (one pod per node), in the order the scheduler would serve them.
type Gang struct {
	Job         string
	MachineType string
	Nodes       int
}

// Options are the administrator's settings.
type Options struct {
	// IdleTime is how long a group runs nothing before it shrinks to its
	// minimum.
	IdleTime time.Duration
}

// Decision is what to do: the groups whose size changes, and why gangs
// that no growth serves keep waiting.
type Decision struct {
	Sizes   map[string]int    // group name → new size (changed groups only)
	Reasons map[string]string // job → reason
}

// Decide returns the sizes the groups should have now.
func Decide(groups []Group, pending []Gang, now time.Time, opts Options) Decision {
	d := Decision{Sizes: map[string]int{}, Reasons: map[string]string{}}
	for _, g := range groups {
		size := g.Size
		free := max(size-g.Busy, 0)
		waiting := false
		for _, gang := range pending {
			if gang.MachineType != g.MachineType {
				continue
			}
			waiting = true
			switch {
			case gang.Nodes > g.Max:
				d.Reasons[gang.Job] = fmt.Sprintf("needs %d nodes of %s: its node group %s grows to at most %d", gang.Nodes, g.MachineType, g.Name, g.Max)
			case gang.Nodes <= free:
				free -= gang.Nodes
			case size+gang.Nodes-free <= g.Max:
				size += gang.Nodes - free
				free = 0
			default:
				d.Reasons[gang.Job] = fmt.Sprintf("waiting for %d nodes of %s: node group %s is at %d of at most %d, %d free",
					gang.Nodes, g.MachineType, g.Name, size, g.Max, free)
			}
		}
		if !waiting && g.Busy == 0 && !g.IdleSince.IsZero() && now.Sub(g.IdleSince) >= opts.IdleTime {
			size = min(size, g.Min)
		}
		if size != g.Size {
			d.Sizes[g.Name] = size
		}
	}
	return d
}
