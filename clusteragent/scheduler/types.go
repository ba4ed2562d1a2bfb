package scheduler

import "time"

// TaintEffect is what a taint does to pods that do not tolerate it.
type TaintEffect string

// Taint effects, as in Kubernetes.
const (
	TaintNoSchedule       TaintEffect = "NoSchedule"
	TaintPreferNoSchedule TaintEffect = "PreferNoSchedule"
	TaintNoExecute        TaintEffect = "NoExecute"
)

// Taint repels pods that do not tolerate it.
type Taint struct {
	Key    string
	Value  string
	Effect TaintEffect
}

// TolerationOperator says how a toleration matches a taint's value.
type TolerationOperator string

// Toleration operators. An empty operator means Equal.
const (
	TolerationEqual  TolerationOperator = "Equal"
	TolerationExists TolerationOperator = "Exists"
)

// Toleration lets a pod onto nodes with a matching taint. An empty Key with
// Exists matches every taint; an empty Effect matches every effect.
type Toleration struct {
	Key      string
	Operator TolerationOperator
	Value    string
	Effect   TaintEffect
}

// Node is a schedulable machine of the cluster. Names are unique; nodes
// sharing a name are ignored, since a binding could not say which is meant.
type Node struct {
	Name          string
	Allocatable   Resources
	Labels        map[string]string
	Taints        []Taint
	Unschedulable bool
}

// Pod is a pod already placed on a node, by this scheduler or another one.
// Tenant is empty when the pod is not ours or its tenant is unknown; such
// pods use resources but never trigger tenant isolation.
type Pod struct {
	Node     string
	Requests Resources
	Tenant   string
}

// Snapshot is the cluster as the scheduler sees it at the start of a cycle.
type Snapshot struct {
	Nodes []Node
	Pods  []Pod
}

// PodSpec is one pod of a gang as the scheduler needs it.
type PodSpec struct {
	Requests     Resources
	NodeSelector map[string]string
	Tolerations  []Toleration
}

// Gang is a job's group of pods, bound all together or not at all.
type Gang struct {
	ID       string // unique among the pending gangs (the agent uses "namespace/job number")
	Tenant   string // empty: not subject to tenant isolation
	Priority int    // higher first
	Created  time.Time
	Pods     []PodSpec
	// OnePodPerNode: two pods of this gang never share a node (multi-node
	// jobs, one pod per machine).
	OnePodPerNode bool
	// Occupied are nodes already holding pods of the gang (the bound part
	// of a partly bound gang whose rest is placed here); with
	// OnePodPerNode no pod goes there.
	Occupied []string
}

// Options tune a cycle. The zero value is a valid default.
type Options struct {
	// Weights multiply resources in the weighted capacity that ranks nodes
	// (see the package documentation for units and defaults).
	Weights map[string]float64
	// TenantIsolation keeps pods of different tenants off the same node.
	TenantIsolation bool
	// Backfill lets later gangs run around a blocked queue head on nodes
	// the head's reservation does not need.
	Backfill bool
	// MaxGangsPerCycle bounds the gangs bound in one cycle; 0 means no bound.
	MaxGangsPerCycle int
}

// Binding places every pod of a gang: Nodes[i] is the node of Pods[i].
type Binding struct {
	GangID string
	Nodes  []string
}

// ReasonCode classifies why a gang is pending, for programs; Reason in
// Pending says it for people.
type ReasonCode string

// Reason codes.
const (
	// ReasonInvalid: the gang itself is malformed (no id, no pods, a
	// duplicate id, a negative request).
	ReasonInvalid ReasonCode = "Invalid"
	// ReasonNoMatchingNode: no node passes the selectors, taints and
	// schedulability filters.
	ReasonNoMatchingNode ReasonCode = "NoMatchingNode"
	// ReasonLargerThanCluster: the gang would not fit even on the empty
	// cluster; it never blocks other gangs.
	ReasonLargerThanCluster ReasonCode = "LargerThanCluster"
	// ReasonOtherSchedulers: pods of other schedulers, whose end is
	// unknown, leave too little room even once all of our pods end; such a
	// gang never blocks other gangs.
	ReasonOtherSchedulers ReasonCode = "OtherSchedulers"
	// ReasonInsufficient: not enough free resources now.
	ReasonInsufficient ReasonCode = "Insufficient"
	// ReasonTenantIsolation: enough resources are free, but on nodes used
	// by other tenants.
	ReasonTenantIsolation ReasonCode = "TenantIsolation"
	// ReasonReserved: enough resources are free, but on nodes reserved for
	// the blocked queue head.
	ReasonReserved ReasonCode = "Reserved"
	// ReasonWaiting: without backfill, the gang waits behind the queue head.
	ReasonWaiting ReasonCode = "Waiting"
	// ReasonCycleLimit: Options.MaxGangsPerCycle gangs were bound already.
	ReasonCycleLimit ReasonCode = "CycleLimit"
)

// Pending is a gang left unbound, with the reason.
type Pending struct {
	GangID  string
	Code    ReasonCode
	Reason  string
	Waiting time.Duration // now minus the gang's creation time, never negative
}

// Result is the outcome of one cycle. Both lists follow queue order.
type Result struct {
	Bindings []Binding
	Pending  []Pending
}
