// Package elastic decides the sizes of a cloud cluster's node groups
// (EKS managed node groups, GKE node pools): pure, from a snapshot of the
// groups and the gangs waiting for them and the time, to the sizes to ask
// the cloud for and the reasons gangs keep waiting. A group grows by the
// nodes a whole waiting gang needs, at once, and never beyond its
// maximum (a gang that cannot fit the maximum gets no capacity at all and
// a reason saying so); a group that has been wholly idle for the
// administrator's idle time shrinks back to its minimum. The agent of a
// cloud cluster carries the decisions out through the cloud's SDK.
package elastic

import (
	"fmt"
	"sort"
	"time"
)

// Group is one node group as the snapshot saw it.
type Group struct {
	Name        string
	MachineType string
	// Size is the group's desired size now; Min and Max its bounds.
	Size, Min, Max int
	// Busy is how many of its nodes run job pods.
	Busy int
	// IdleSince is when its last job pod ended (zero while Busy > 0).
	IdleSince time.Time
}

// Gang is a job waiting for nodes of a machine type, all at once.
type Gang struct {
	Job         string
	MachineType string
	Nodes       int
	Submitted   time.Time
}

// Snapshot is what a decision reads.
type Snapshot struct {
	Groups  []Group
	Pending []Gang
}

// Options are the administrator's settings.
type Options struct {
	// IdleAfter is how long a wholly idle group stays above its minimum.
	IdleAfter time.Duration
}

// Resize asks for a group's new desired size.
type Resize struct {
	Group    string
	From, To int
	Reason   string
}

// Waiting says why a gang gets no new capacity.
type Waiting struct {
	Job    string
	Reason string
}

// Decide returns the resizes, by group name, and the gangs that wait, by
// submission order. Gangs are served in submission order (then job name);
// a gang that does not fit what is left of a group's maximum is skipped,
// and smaller gangs after it may still grow the group.
func Decide(s Snapshot, now time.Time, o Options) ([]Resize, []Waiting) {
	gangs := append([]Gang(nil), s.Pending...)
	sort.SliceStable(gangs, func(i, j int) bool {
		if !gangs[i].Submitted.Equal(gangs[j].Submitted) {
			return gangs[i].Submitted.Before(gangs[j].Submitted)
		}
		return gangs[i].Job < gangs[j].Job
	})
	groups := append([]Group(nil), s.Groups...)
	sort.Slice(groups, func(i, j int) bool { return groups[i].Name < groups[j].Name })
	byType := map[string]int{} // machine type → index in groups (the first group of it)
	for i, g := range groups {
		if _, dup := byType[g.MachineType]; !dup {
			byType[g.MachineType] = i
		}
	}
	target := make([]int, len(groups))
	free := make([]int, len(groups))
	grew := make([][]string, len(groups))
	wanted := make([]bool, len(groups))
	for i, g := range groups {
		target[i], free[i] = g.Size, max(g.Size-g.Busy, 0)
	}
	var waiting []Waiting
	for _, gang := range gangs {
		i, ok := byType[gang.MachineType]
		if !ok {
			continue // not a machine type of an elastic group
		}
		g := groups[i]
		wanted[i] = true
		switch {
		case gang.Nodes > g.Max:
			waiting = append(waiting, Waiting{Job: gang.Job,
				Reason: fmt.Sprintf("needs %d nodes of %s; node group %s grows to at most %d", gang.Nodes, g.MachineType, g.Name, g.Max)})
		case free[i] >= gang.Nodes:
			free[i] -= gang.Nodes
		case target[i]+gang.Nodes-free[i] > g.Max:
			waiting = append(waiting, Waiting{Job: gang.Job,
				Reason: fmt.Sprintf("node group %s is at %d of at most %d nodes; %d more needed", g.Name, target[i], g.Max, gang.Nodes-free[i])})
		default:
			target[i] += gang.Nodes - free[i]
			free[i] = 0
			grew[i] = append(grew[i], gang.Job)
		}
	}
	var out []Resize
	for i, g := range groups {
		switch {
		case target[i] > g.Size:
			out = append(out, Resize{Group: g.Name, From: g.Size, To: target[i], Reason: fmt.Sprintf("whole gangs of %v", grew[i])})
		case !wanted[i] && g.Busy == 0 && g.Size > g.Min && !g.IdleSince.IsZero() && now.Sub(g.IdleSince) >= o.IdleAfter:
			out = append(out, Resize{Group: g.Name, From: g.Size, To: g.Min,
				Reason: fmt.Sprintf("idle since %s (%s)", g.IdleSince.UTC().Format(time.RFC3339), now.Sub(g.IdleSince).Round(time.Second))})
		}
	}
	return out, waiting
}
