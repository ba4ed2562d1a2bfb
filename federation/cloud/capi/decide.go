package capi

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Labels the controller puts on the clusters it registers at the hub: they
// mark them as its own (it never touches another cluster) and name the
// Cluster API Cluster each came from.
const (
	LabelManagedBy = "flotilla.io/managed-by"
	ManagedByCAPI  = "cluster-api"
	LabelSource    = "flotilla.io/capi-cluster" // <namespace>/<name>
)

// Observed is one Cluster API Cluster matching the selector, as a pass saw it.
type Observed struct {
	// Source is <namespace>/<name>; Name is the cluster's name at the hub.
	Source, Name string
	// Deleting is set once the Cluster has a deletion timestamp.
	Deleting bool
	// Ready: provisioned (phase Provisioned, control plane initialized)
	// and its kubeconfig Secret exists. NotReady says why not.
	Ready    bool
	NotReady string
	// MachineTypes come from its MachineDeployments' annotations;
	// Problems name MachineDeployments that could not be read as one.
	MachineTypes map[string]*structs.MachineType
	Problems     []string
}

// Input is everything one decision depends on.
type Input struct {
	Observed []Observed
	// Clusters and MachineTypes are the hub's, by name.
	Clusters     map[string]*structs.Cluster
	MachineTypes map[string]*structs.MachineType
	// Installed holds when this controller last installed the agent of a
	// cluster (by hub name); an agent that has not registered within
	// ReinstallAfter of that is installed again with a new token.
	Installed      map[string]time.Time
	ReinstallAfter time.Duration
	Now            time.Time
}

// ActionKind says what an Action does.
type ActionKind string

// Action kinds, in the order they apply to one cluster.
const (
	// Register creates or updates the hub cluster (Labels).
	Register ActionKind = "register"
	// PutMachineType creates or updates MachineType.
	PutMachineType ActionKind = "put-machine-type"
	// DeleteMachineType deletes the machine type Name.
	DeleteMachineType ActionKind = "delete-machine-type"
	// InstallAgent issues a bootstrap token and installs the agent.
	InstallAgent ActionKind = "install-agent"
	// Unregister deletes the hub cluster (after its machine types).
	Unregister ActionKind = "unregister"
	// Wait: nothing to do yet (Reason says why).
	Wait ActionKind = "wait"
	// Refuse: something is in the way that an administrator must fix (Reason).
	Refuse ActionKind = "refuse"
)

// Action is one step; a cluster's steps run in order and stop at its first failure.
type Action struct {
	Kind        ActionKind
	Cluster     string // name at the hub
	Source      string // <namespace>/<name> of the Cluster API Cluster
	Labels      map[string]string
	MachineType *structs.MachineType
	Name        string // machine type to delete
	Reason      string
}

// Decide compares the selected Cluster API Clusters with the hub and
// returns the steps that bring the hub in line: register provisioned
// Clusters and their machine types, install agents that have not
// registered, unregister the clusters (and their machine types) whose
// Cluster is gone, being deleted or no longer selected. It is pure.
func Decide(in Input) []Action {
	var out []Action
	seen := map[string]bool{} // hub names of observed Clusters
	observed := append([]Observed(nil), in.Observed...)
	sort.Slice(observed, func(i, j int) bool { return observed[i].Source < observed[j].Source })
	for _, o := range observed {
		if !o.Deleting {
			seen[o.Name] = true
		}
	}
	// Unregister first: a name freed by a deleted Cluster may be taken by a new one.
	for _, name := range sortedKeys(in.Clusters) {
		hc := in.Clusters[name]
		if !managed(hc) {
			continue
		}
		keep := false
		for _, o := range observed {
			if o.Name == name && o.Source == hc.Labels[LabelSource] && !o.Deleting {
				keep = true
			}
		}
		if keep {
			continue
		}
		src := hc.Labels[LabelSource]
		for _, mt := range pinnedTo(in.MachineTypes, name) {
			out = append(out, Action{Kind: DeleteMachineType, Cluster: name, Source: src, Name: mt})
		}
		out = append(out, Action{Kind: Unregister, Cluster: name, Source: src,
			Reason: "the Cluster is gone, being deleted or no longer selected"})
	}
	claimed := map[string]string{} // hub name → source, among observed
	for _, o := range observed {
		if o.Deleting {
			continue
		}
		if other, dup := claimed[o.Name]; dup {
			out = append(out, Action{Kind: Refuse, Cluster: o.Name, Source: o.Source,
				Reason: fmt.Sprintf("hub cluster name %q is also that of Cluster %s", o.Name, other)})
			continue
		}
		claimed[o.Name] = o.Source
		out = append(out, decideOne(in, o)...)
	}
	return out
}

func decideOne(in Input, o Observed) []Action {
	act := func(k ActionKind) Action { return Action{Kind: k, Cluster: o.Name, Source: o.Source} }
	var out []Action
	hc := in.Clusters[o.Name]
	if hc != nil && (!managed(hc) || hc.Labels[LabelSource] != o.Source) {
		a := act(Refuse)
		a.Reason = fmt.Sprintf("the hub already has a cluster %q that this controller did not register from this Cluster", o.Name)
		return []Action{a}
	}
	if !o.Ready {
		a := act(Wait)
		a.Reason = o.NotReady
		return []Action{a}
	}
	labels := map[string]string{LabelManagedBy: ManagedByCAPI, LabelSource: o.Source}
	if hc == nil || !maps.Equal(hc.Labels, labels) {
		a := act(Register)
		a.Labels = labels
		out = append(out, a)
	}
	for _, p := range o.Problems {
		a := act(Refuse)
		a.Reason = p
		out = append(out, a)
	}
	for _, name := range sortedKeys(o.MachineTypes) {
		want := o.MachineTypes[name].Copy()
		have := in.MachineTypes[name]
		if have != nil {
			// What administrators set at the hub is theirs to keep.
			want.Privs, want.Priority, want.MaxConcurrent = slices.Clone(have.Privs), have.Priority, have.MaxConcurrent
		}
		switch {
		case have != nil && have.Cluster != o.Name:
			a := act(Refuse)
			a.Reason = fmt.Sprintf("machine type %q exists at the hub, pinned to %q", name, have.Cluster)
			out = append(out, a)
		case have == nil || !sameMachineType(have, want):
			a := act(PutMachineType)
			a.MachineType = want
			out = append(out, a)
		}
	}
	for _, name := range pinnedTo(in.MachineTypes, o.Name) {
		if o.MachineTypes[name] == nil {
			a := act(DeleteMachineType)
			a.Name = name
			out = append(out, a)
		}
	}
	registered := hc != nil && hc.AgentKey != (structs.APIKeyHash{})
	if last, ok := in.Installed[o.Name]; !registered && (!ok || in.Now.Sub(last) >= in.ReinstallAfter) {
		out = append(out, act(InstallAgent))
	}
	return out
}

func managed(c *structs.Cluster) bool { return c != nil && c.Labels[LabelManagedBy] == ManagedByCAPI }

// sameMachineType compares two machine types but for their raft indexes.
func sameMachineType(a, b *structs.MachineType) bool {
	x, y := *a, *b
	x.RaftIndex, y.RaftIndex = structs.RaftIndex{}, structs.RaftIndex{}
	return reflect.DeepEqual(x, y)
}

func pinnedTo(mts map[string]*structs.MachineType, cluster string) []string {
	var out []string
	for name, mt := range mts {
		if mt.Cluster == cluster {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
