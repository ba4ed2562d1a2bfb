package prepull

import (
	"maps"
	"slices"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Node is a node of the cluster as Decide needs it.
type Node struct {
	Name   string
	Arch   string // kubernetes.io/arch ("" unknown)
	Labels map[string]string
}

// Image is what is known of an image's platforms.
type Image struct {
	// Platforms are "os/arch" or "os/arch/variant"; nil while unknown.
	Platforms []string
	// Err says why the image could not be resolved ("" when it was).
	Err string
}

// PullKey names one pull: an image onto a node.
type PullKey struct{ Image, Node string }

// PullState is what became of a pull.
type PullState int

// Pull states.
const (
	PullRunning PullState = iota + 1 // its pod exists, the image is not there yet
	PullDone                         // the image is on the node
	PullFailed                       // the pull failed (Reason); retried later by the shell
)

// Pull is a pull the shell knows of.
type Pull struct {
	State  PullState
	Reason string
}

// Input is everything Decide looks at.
type Input struct {
	Apps         []structs.AgentApp
	MachineTypes []*structs.MachineType
	Nodes        []Node
	Images       map[string]Image // by reference
	Pulls        map[PullKey]Pull
}

// Decision is Decide's answer: the report for the hub, and the pulls that
// should be under way or done (a pull pod outside it is not needed).
type Decision struct {
	Catalog *structs.ClusterCatalog
	// Start are wanted pulls the shell knows nothing of: create their pods.
	Start []PullKey
	// Wanted are all the pulls the catalog asks for.
	Wanted map[PullKey]bool
}

// Decide computes the catalog report and the pulls to start. Pure.
func Decide(in Input) Decision {
	d := Decision{Catalog: &structs.ClusterCatalog{Arches: map[string][]string{}, Apps: map[string]structs.ClusterApp{}},
		Wanted: map[PullKey]bool{}}
	mtNodes := map[string][]Node{}
	mts := map[string]*structs.MachineType{}
	for _, mt := range in.MachineTypes {
		mts[mt.Name] = mt
		ns := nodesOf(mt, in.Nodes)
		mtNodes[mt.Name] = ns
		arches := map[string]bool{}
		for _, n := range ns {
			if n.Arch != "" {
				arches[n.Arch] = true
			}
		}
		d.Catalog.Arches[mt.Name] = slices.Sorted(maps.Keys(arches))
	}
	start := map[PullKey]bool{}
	for _, app := range in.Apps {
		img, known := in.Images[app.Image]
		ca := structs.ClusterApp{Image: app.Image, Platforms: slices.Clone(img.Platforms), Reason: img.Err,
			MachineTypes: map[string]structs.AppOnMachineType{}}
		for _, name := range app.MachineTypes {
			if mts[name] == nil {
				continue // not this cluster's (the agent's list is newer or older than the hub's)
			}
			ca.MachineTypes[name] = onMachineType(app, name, mtNodes[name], img, known, in.Pulls, d.Wanted, start)
		}
		d.Catalog.Apps[app.Name] = ca
	}
	d.Start = slices.SortedFunc(maps.Keys(start), func(a, b PullKey) int {
		if c := strings.Compare(a.Image, b.Image); c != 0 {
			return c
		}
		return strings.Compare(a.Node, b.Node)
	})
	return d
}

// onMachineType decides one app on one machine type's nodes.
func onMachineType(app structs.AgentApp, mt string, nodes []Node, img Image, known bool,
	pulls map[PullKey]Pull, wanted, start map[PullKey]bool) structs.AppOnMachineType {
	switch {
	case len(nodes) == 0:
		return structs.AppOnMachineType{State: structs.AppPending, Reason: "machine type " + mt + " has no nodes"}
	case !known || (img.Platforms == nil && img.Err == ""):
		return structs.AppOnMachineType{State: structs.AppPending, Reason: "resolving image " + app.Image}
	case img.Platforms == nil:
		return structs.AppOnMachineType{State: structs.AppFailed, Reason: "image " + app.Image + ": " + img.Err}
	}
	var runnable []Node
	arches := map[string]bool{}
	for _, n := range nodes {
		arches[n.Arch] = true
		if n.Arch == "" || runsOn(img.Platforms, n.Arch) {
			runnable = append(runnable, n)
		}
	}
	if len(runnable) == 0 {
		return structs.AppOnMachineType{State: structs.AppNotRunnable,
			Reason: "image " + app.Image + " is built for " + strings.Join(img.Platforms, ", ") +
				"; the nodes of machine type " + mt + " are " + strings.Join(slices.Sorted(maps.Keys(arches)), ", ")}
	}
	on := structs.AppOnMachineType{Nodes: len(runnable)}
	if app.NoPrePull {
		on.State = structs.AppNotPulled
		return on
	}
	var failed string
	for _, n := range runnable {
		k := PullKey{Image: app.Image, Node: n.Name}
		wanted[k] = true
		p, seen := pulls[k]
		switch {
		case !seen:
			start[k] = true
		case p.State == PullDone:
			on.Ready++
		case p.State == PullFailed && failed == "":
			failed = "node " + n.Name + ": " + p.Reason
		}
	}
	switch {
	case failed != "":
		on.State, on.Reason = structs.AppFailed, failed
	case on.Ready == on.Nodes:
		on.State = structs.AppReady
	default:
		on.State = structs.AppPulling
	}
	return on
}

// nodesOf returns the nodes of machine type mt: those its properties and
// architecture select.
func nodesOf(mt *structs.MachineType, nodes []Node) []Node {
	sel, err := mt.NodeSelector()
	if err != nil {
		return nil
	}
	var out []Node
	for _, n := range nodes {
		if mt.Arch != "" && n.Arch != mt.Arch {
			continue
		}
		ok := true
		for k, v := range sel {
			if n.Labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, n)
		}
	}
	return out
}

// runsOn reports whether an image with platforms runs on a Linux node of
// architecture arch.
func runsOn(platforms []string, arch string) bool {
	for _, p := range platforms {
		parts := strings.Split(p, "/")
		if len(parts) >= 2 && (parts[0] == "linux" || parts[0] == "") && parts[1] == arch {
			return true
		}
	}
	return false
}
