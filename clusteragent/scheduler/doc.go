// Package scheduler is the cluster agent's level-2 gang scheduler: a pure
// function from a cluster snapshot, the pending gangs, options and the
// current time to bindings for whole gangs, plus a reason a user can read
// for every gang left pending. It does no I/O and Schedule keeps no state
// between calls; State is the same snapshot kept between passes and
// changed a node at a time, whose passes decide exactly what Schedule
// decides on it. The binder carries out its decisions and Explain answers
// "why is my job pending?" with the same code.
//
// # Policy
//
// Gangs are considered in queue order: priority descending, then creation
// time ascending, then id. All pods of a gang are bound in one decision or
// none is, and a bound gang's pods are assumed for the rest of the cycle so
// later gangs see their usage.
//
// Best fit: feasible nodes are grouped into weight classes by their
// weighted capacity, the sum over resources of weight × allocatable, where
// CPU counts in cores, memory and ephemeral storage in GiB, and GPUs, pods
// and other named resources as counts. Unnamed resources weigh 1, except
// pods and ephemeral-storage which weigh 0 unless Options.Weights names
// them: every node has pod slots and disk, and letting them count would
// rank nodes by their disks rather than their compute. Negative or NaN
// weights count as 0. A gang tries the classes from the smallest capacity
// up and all pods of one gang land in a single class, so CPU-only work
// stays off GPU nodes while CPU nodes fit it, and a multi-node job runs on
// uniform hardware. Within a class each pod goes to the feasible node with
// the least weighted free capacity (the tightest fit, which keeps whole
// nodes free for large gangs), ties broken by node name. Pods of a gang
// are placed greedily, largest first: exact for gangs of equal pods, a
// heuristic for gangs mixing pod shapes. Nodes whose untolerated taints are only
// PreferNoSchedule are used only when the gang does not fit elsewhere.
//
// Filters: NoSchedule and NoExecute taints need a matching toleration
// (Equal or Exists, an empty effect matching every effect), node selectors
// must match labels exactly, unschedulable nodes are skipped unless the pod
// tolerates node.kubernetes.io/unschedulable, and no resource of a node's
// allocatable is ever exceeded. Every pod takes one pod slot; a node whose
// allocatable pods is 0 has no pod limit. With OnePodPerNode, two pods of a
// gang never share a node. With TenantIsolation a node that runs any pod of
// tenant A, including pods assumed earlier in the cycle, is infeasible for
// tenant B; pods without a tenant (other schedulers' pods) block nobody, and
// a gang without a tenant is not isolated.
//
// Queue head and backfill: only a gang that would fit once all of our
// running pods end (on allocatable minus the pods of other schedulers,
// whose end is unknown) can hold up the queue; a gang too large for that
// stays pending with its reason and blocks nobody. The first gang that
// could fit so but does not fit now is the head. Without backfill, every
// later gang waits behind the head. With backfill the head gets a
// reservation: the nodes it would be given against allocatable minus the
// pods of other schedulers, chosen by the usual class rule but preferring,
// within a class, the nodes with the most free capacity now, so the head
// starts as soon as the fewest running pods end. Later gangs may use only
// nodes outside that reservation, so nothing placed by backfill runs on a
// node the head is waiting for, and the head's start is bounded by the end
// of the pods already on its reserved nodes. Only the head is reserved
// for (as in EASY backfill); later blocked gangs wait their turn.
//
// Capacity answers, with the same filter, fit and class rule, the largest
// gang of identical pods a cycle would bind now and on the empty cluster:
// the capacity an agent reports to the hub per machine type.
//
// The scheduler groups nodes into classes once per cycle, keeps free
// vectors in flat slices indexed by node, and keeps every class sorted by
// weighted free capacity, so a placement is a binary search plus a short
// scan.
package scheduler
