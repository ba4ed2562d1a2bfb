package scheduler

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSchedule(t *testing.T) {
	cpu8 := res(8, 16, 0)
	gpu1 := res(8, 16, 1)
	for name, tc := range map[string]struct {
		snap  Snapshot
		gangs []Gang
		opts  Options
		want  Result
	}{
		"best fit keeps cpu work off gpu nodes": {
			snap: Snapshot{Nodes: []Node{node("gpu-a", 32, 128, 4), node("cpu-z", 32, 128, 0)}},
			gangs: []Gang{
				gang("cpu", 1, cpu8),
				createdAt(gang("gpu", 1, gpu1), 1),
			},
			want: Result{Bindings: []Binding{bind("cpu", "cpu-z"), bind("gpu", "gpu-a")}},
		},
		"cpu work uses a gpu node when cpu nodes are full": {
			snap: Snapshot{
				Nodes: []Node{node("gpu-a", 32, 128, 4), node("cpu-z", 32, 128, 0)},
				Pods:  []Pod{pod("cpu-z", res(30, 0, 0), "")},
			},
			gangs: []Gang{gang("cpu", 1, cpu8)},
			want:  Result{Bindings: []Binding{bind("cpu", "gpu-a")}},
		},
		"the rest of a partly bound gang avoids the nodes its bound pods hold": {
			snap: Snapshot{Nodes: []Node{node("a", 32, 128, 0), node("b", 32, 128, 0), node("c", 32, 128, 0)},
				Pods: []Pod{pod("a", res(8, 16, 0), "t1"), pod("b", res(8, 16, 0), "t1")}},
			gangs: []Gang{occupying(multiNode(gang("rest", 1, cpu8)), "a", "b")},
			want:  Result{Bindings: []Binding{bind("rest", "c")}},
		},
		"the rest of a partly bound gang does not fit where only its own nodes are free": {
			snap:  Snapshot{Nodes: []Node{node("a", 32, 128, 0), node("b", 32, 128, 0)}},
			gangs: []Gang{occupying(multiNode(gang("rest", 1, cpu8)), "a", "b")},
			want: Result{Pending: []Pending{pending("rest", ReasonLargerThanCluster,
				"larger than the cluster: its pods of different shapes cannot all be placed on nodes of one weight class")}},
		},
		"best fit packs the fullest node": {
			snap: Snapshot{
				Nodes: []Node{node("a", 32, 128, 0), node("b", 32, 128, 0), node("c", 32, 128, 0)},
				Pods:  []Pod{pod("b", res(20, 64, 0), "t1"), pod("c", res(10, 10, 0), "t1")},
			},
			gangs: []Gang{gang("j", 1, cpu8)},
			want:  Result{Bindings: []Binding{bind("j", "b")}},
		},
		"default weights prefer the node with fewer cores plus GiB": {
			snap:  Snapshot{Nodes: []Node{node("wide", 64, 64, 0), node("tall", 16, 256, 0)}},
			gangs: []Gang{gang("j", 1, res(4, 8, 0))},
			want:  Result{Bindings: []Binding{bind("j", "wide")}},
		},
		"a low memory weight changes the choice": {
			snap:  Snapshot{Nodes: []Node{node("wide", 64, 64, 0), node("tall", 16, 256, 0)}},
			gangs: []Gang{gang("j", 1, res(4, 8, 0))},
			opts:  Options{Weights: map[string]float64{ResourceMemory: 0.1}},
			want:  Result{Bindings: []Binding{bind("j", "tall")}},
		},
		"a high gpu weight keeps cpu work off a small gpu node": {
			snap:  Snapshot{Nodes: []Node{node("gpu", 16, 64, 4), node("cpu", 64, 256, 0)}},
			gangs: []Gang{gang("j", 1, cpu8)},
			opts:  Options{Weights: map[string]float64{ResourceGPU: 1000}},
			want:  Result{Bindings: []Binding{bind("j", "cpu")}},
		},
		"a small gpu node takes cpu work under default weights": {
			snap:  Snapshot{Nodes: []Node{node("gpu", 16, 64, 4), node("cpu", 64, 256, 0)}},
			gangs: []Gang{gang("j", 1, cpu8)},
			want:  Result{Bindings: []Binding{bind("j", "gpu")}},
		},
		"gang larger than the cluster stays pending and blocks nobody": {
			snap: Snapshot{Nodes: []Node{node("n1", 16, 64, 0), node("n2", 16, 64, 0), node("n3", 16, 64, 0)}},
			gangs: []Gang{
				prio(multiNode(gang("huge", 5, cpu8)), 9),
				gang("small", 2, cpu8),
			},
			want: Result{
				Bindings: []Binding{bind("small", "n1", "n1")},
				Pending: []Pending{pending("huge", ReasonLargerThanCluster,
					"larger than the cluster: needs 5 nodes with 8 cores, 16 GiB, cluster has 3")},
			},
		},
		"pod larger than any node": {
			snap:  Snapshot{Nodes: []Node{node("n1", 16, 64, 0), node("n2", 32, 32, 0)}},
			gangs: []Gang{gang("big", 1, res(48, 16, 0))},
			want: Result{Pending: []Pending{pending("big", ReasonLargerThanCluster,
				"larger than any node: needs 48 cores, 16 GiB; no node has more than 32 cores")}},
		},
		"gpu pod on a cpu-only cluster": {
			snap:  Snapshot{Nodes: []Node{node("n1", 16, 64, 0)}},
			gangs: []Gang{gang("g", 1, gpu1)},
			want:  Result{Pending: []Pending{pending("g", ReasonLargerThanCluster, "no node has GPUs")}},
		},
		"higher priority goes first": {
			snap: Snapshot{Nodes: []Node{node("n1", 8, 16, 0)}},
			gangs: []Gang{
				gang("old-low", 1, cpu8),
				prio(createdAt(gang("new-high", 1, cpu8), 5), 3),
			},
			want: Result{
				Bindings: []Binding{bind("new-high", "n1")},
				Pending: []Pending{pending("old-low", ReasonInsufficient,
					"needs one node with 8 cores, 16 GiB free; no node has that free now")},
			},
		},
		"older goes first at equal priority": {
			snap: Snapshot{Nodes: []Node{node("n1", 8, 16, 0)}},
			gangs: []Gang{
				createdAt(gang("a-new", 1, cpu8), 2),
				createdAt(gang("b-old", 1, cpu8), 1),
			},
			want: Result{
				Bindings: []Binding{bind("b-old", "n1")},
				Pending: []Pending{pending("a-new", ReasonInsufficient,
					"needs one node with 8 cores, 16 GiB free; no node has that free now")},
			},
		},
		"without backfill later gangs wait behind the head": {
			snap: backfillSnapshot(),
			gangs: []Gang{
				prio(multiNode(gang("head", 2, cpu8)), 5),
				gang("fits-n3", 1, res(2, 2, 0)),
				gang("fits-reserved", 1, res(3, 2, 0)),
			},
			want: Result{Pending: []Pending{
				pending("head", ReasonInsufficient, "needs 2 nodes with 8 cores, 16 GiB free; 1 fit"),
				pending("fits-n3", ReasonWaiting, "waiting behind higher-priority job head"),
				pending("fits-reserved", ReasonWaiting, "waiting behind higher-priority job head"),
			}},
		},
		"backfill runs small gangs only on nodes the head does not need": {
			snap: backfillSnapshot(),
			gangs: []Gang{
				prio(multiNode(gang("head", 2, cpu8)), 5),
				gang("fits-n3", 1, res(2, 2, 0)),
				gang("fits-reserved", 1, res(3, 2, 0)),
			},
			opts: Options{Backfill: true},
			want: Result{
				Bindings: []Binding{bind("fits-n3", "n3")},
				Pending: []Pending{
					pending("head", ReasonInsufficient, "needs 2 nodes with 8 cores, 16 GiB free; 1 fit"),
					pending("fits-reserved", ReasonReserved,
						"2 nodes with room reserved for job head, ahead in the queue; needs one node with 3 cores, 2 GiB free"),
				},
			},
		},
		"tenant isolation keeps tenants apart": {
			snap: Snapshot{
				Nodes: []Node{node("a", 16, 64, 0), node("b", 16, 64, 0)},
				Pods:  []Pod{pod("a", res(4, 4, 0), "acme")},
			},
			gangs: []Gang{ofTenant(gang("j", 1, cpu8), "globex")},
			opts:  Options{TenantIsolation: true},
			want:  Result{Bindings: []Binding{bind("j", "b")}},
		},
		"without isolation tenants share the tightest node": {
			snap: Snapshot{
				Nodes: []Node{node("a", 16, 64, 0), node("b", 16, 64, 0)},
				Pods:  []Pod{pod("a", res(4, 4, 0), "acme")},
			},
			gangs: []Gang{ofTenant(gang("j", 1, cpu8), "globex")},
			want:  Result{Bindings: []Binding{bind("j", "a")}},
		},
		"tenant isolation blocks when every node is used by another tenant": {
			snap: Snapshot{
				Nodes: []Node{node("a", 16, 64, 0), node("b", 16, 64, 0)},
				Pods:  []Pod{pod("a", res(4, 4, 0), "acme"), pod("b", res(1, 1, 0), "initech")},
			},
			gangs: []Gang{ofTenant(gang("j", 1, cpu8), "globex"), ofTenant(createdAt(gang("k", 1, cpu8), 1), "acme")},
			opts:  Options{TenantIsolation: true, Backfill: true},
			want: Result{
				Bindings: []Binding{bind("k", "a")},
				Pending: []Pending{pending("j", ReasonTenantIsolation,
					"tenant isolation: 2 nodes with room used by other tenants; needs one node with 8 cores, 16 GiB free")},
			},
		},
		"tenant isolation sees gangs assumed earlier in the cycle": {
			snap: Snapshot{Nodes: []Node{node("a", 32, 128, 0), node("b", 32, 128, 0)}},
			gangs: []Gang{
				ofTenant(gang("first", 1, cpu8), "acme"),
				ofTenant(createdAt(gang("second", 1, cpu8), 1), "globex"),
				ofTenant(createdAt(gang("third", 1, cpu8), 2), "acme"),
			},
			opts: Options{TenantIsolation: true},
			want: Result{Bindings: []Binding{bind("first", "a"), bind("second", "b"), bind("third", "a")}},
		},
		"pods of other schedulers do not trigger isolation": {
			snap: Snapshot{
				Nodes: []Node{node("a", 16, 64, 0), node("b", 16, 64, 0)},
				Pods:  []Pod{pod("a", res(4, 4, 0), "")},
			},
			gangs: []Gang{ofTenant(gang("j", 1, cpu8), "globex")},
			opts:  Options{TenantIsolation: true},
			want:  Result{Bindings: []Binding{bind("j", "a")}},
		},
		"pods of other schedulers use resources": {
			snap: Snapshot{
				Nodes: []Node{node("a", 8, 64, 0), node("b", 16, 64, 0)},
				Pods:  []Pod{pod("a", res(6, 4, 0), "")},
			},
			gangs: []Gang{gang("j", 1, res(4, 4, 0))},
			want:  Result{Bindings: []Binding{bind("j", "b")}},
		},
		"pods of other schedulers leave too little room and block nobody": {
			snap: Snapshot{
				Nodes: []Node{node("a", 8, 64, 0), node("b", 8, 64, 0)},
				Pods:  []Pod{pod("a", res(6, 4, 0), ""), pod("b", res(6, 4, 0), "")},
			},
			gangs: []Gang{prio(gang("j", 1, res(4, 4, 0)), 1), gang("k", 1, res(2, 4, 0))},
			want: Result{
				Bindings: []Binding{bind("k", "a")},
				Pending: []Pending{pending("j", ReasonOtherSchedulers,
					"needs one node with 4 cores, 4 GiB free; pods of other schedulers leave no node with that room")},
			},
		},
		"node selector with no match": {
			snap:  Snapshot{Nodes: []Node{withLabels(node("a", 16, 64, 0), "gpu", "t4")}},
			gangs: []Gang{selecting(gang("j", 1, cpu8), "gpu", "a100")},
			want:  Result{Pending: []Pending{pending("j", ReasonNoMatchingNode, "no node matches node selector gpu=a100")}},
		},
		"node selector picks the matching node": {
			snap: Snapshot{Nodes: []Node{
				withLabels(node("a", 16, 64, 0), "zone", "east"),
				withLabels(node("b", 32, 64, 0), "zone", "west"),
			}},
			gangs: []Gang{selecting(gang("j", 1, cpu8), "zone", "west")},
			want:  Result{Bindings: []Binding{bind("j", "b")}},
		},
		"taints need tolerations": {
			snap: Snapshot{Nodes: []Node{
				withTaint(node("a", 16, 64, 0), "dedicated", "ml", TaintNoSchedule),
				node("b", 32, 64, 0),
			}},
			gangs: []Gang{
				gang("plain", 1, cpu8),
				createdAt(tolerating(gang("tolerant", 1, cpu8),
					Toleration{Key: "dedicated", Operator: TolerationEqual, Value: "ml", Effect: TaintNoSchedule}), 1),
			},
			want: Result{Bindings: []Binding{bind("plain", "b"), bind("tolerant", "a")}},
		},
		"no node tolerated": {
			snap: Snapshot{Nodes: []Node{
				withTaint(node("a", 16, 64, 0), "dedicated", "ml", TaintNoExecute),
				withTaint(node("b", 16, 64, 0), "dedicated", "ml", TaintNoSchedule),
			}},
			gangs: []Gang{tolerating(gang("j", 1, cpu8), Toleration{Key: "dedicated", Operator: TolerationExists, Effect: TaintNoSchedule})},
			want:  Result{Bindings: []Binding{bind("j", "b")}},
		},
		"prefer-no-schedule nodes are a last resort": {
			snap: Snapshot{Nodes: []Node{
				withTaint(node("a", 16, 64, 0), "spot", "", TaintPreferNoSchedule),
				node("b", 32, 128, 0),
			}},
			gangs: []Gang{gang("j", 1, cpu8), createdAt(gang("k", 1, res(24, 100, 0)), 1), createdAt(gang("l", 1, cpu8), 2)},
			want:  Result{Bindings: []Binding{bind("j", "b"), bind("k", "b"), bind("l", "a")}},
		},
		"unschedulable nodes are skipped": {
			snap: Snapshot{Nodes: []Node{
				{Name: "a", Allocatable: res(16, 64, 0), Unschedulable: true},
				node("b", 32, 64, 0),
			}},
			gangs: []Gang{gang("j", 1, cpu8)},
			want:  Result{Bindings: []Binding{bind("j", "b")}},
		},
		"one pod per node": {
			snap:  Snapshot{Nodes: []Node{node("a", 64, 256, 0)}},
			gangs: []Gang{multiNode(gang("mpi", 2, cpu8)), createdAt(gang("pack", 2, cpu8), 1)},
			want: Result{
				Bindings: []Binding{bind("pack", "a", "a")},
				Pending: []Pending{pending("mpi", ReasonLargerThanCluster,
					"larger than the cluster: needs 2 nodes with 8 cores, 16 GiB, cluster has 1")},
			},
		},
		"a multi-node gang stays in one weight class": {
			snap: Snapshot{Nodes: []Node{
				node("s1", 16, 64, 0), node("s2", 16, 64, 0),
				node("b1", 32, 128, 0), node("b2", 32, 128, 0), node("b3", 32, 128, 0),
			}},
			gangs: []Gang{multiNode(gang("mpi", 3, cpu8)), createdAt(multiNode(gang("pair", 2, cpu8)), 1)},
			want:  Result{Bindings: []Binding{bind("mpi", "b1", "b2", "b3"), bind("pair", "s1", "s2")}},
		},
		"a gang is never partly bound": {
			snap: Snapshot{Nodes: []Node{node("a", 16, 64, 0), node("b", 16, 64, 0)}},
			gangs: []Gang{
				gang("three", 3, res(12, 8, 0)),
				createdAt(gang("one", 1, res(12, 8, 0)), 1),
			},
			want: Result{
				Bindings: []Binding{bind("one", "a")},
				Pending: []Pending{pending("three", ReasonLargerThanCluster,
					"larger than the cluster: needs room for 3 pods of 12 cores, 8 GiB, the cluster has room for 2")},
			},
		},
		"cycle limit": {
			snap:  Snapshot{Nodes: []Node{node("a", 64, 256, 0)}},
			gangs: []Gang{gang("a1", 1, cpu8), createdAt(gang("a2", 1, cpu8), 1)},
			opts:  Options{MaxGangsPerCycle: 1},
			want: Result{
				Bindings: []Binding{bind("a1", "a")},
				Pending:  []Pending{pending("a2", ReasonCycleLimit, "cycle limit of 1 gangs reached; considered next cycle")},
			},
		},
		"invalid gangs": {
			snap: Snapshot{Nodes: []Node{node("a", 64, 256, 0)}},
			gangs: []Gang{
				gang("dup", 1, cpu8), gang("dup", 1, cpu8), gang("", 1, cpu8), gang("none", 0, cpu8),
				gang("neg", 1, Resources{MilliCPU: -1}),
			},
			want: Result{Pending: []Pending{
				pending("", ReasonInvalid, "invalid: the gang has no id"),
				pending("dup", ReasonInvalid, "invalid: 2 pending gangs share this id"),
				pending("dup", ReasonInvalid, "invalid: 2 pending gangs share this id"),
				pending("neg", ReasonInvalid, "invalid: pod 0 requests a negative amount of cpu"),
				pending("none", ReasonInvalid, "invalid: the gang has no pods"),
			}},
		},
		"nodes sharing a name are ignored": {
			snap:  Snapshot{Nodes: []Node{node("a", 16, 64, 0), node("a", 32, 64, 0), node("b", 64, 256, 0)}},
			gangs: []Gang{gang("j", 1, cpu8)},
			want:  Result{Bindings: []Binding{bind("j", "b")}},
		},
		"extended resources are counted": {
			snap: Snapshot{Nodes: []Node{
				node("a", 16, 64, 0),
				{Name: "b", Allocatable: Resources{MilliCPU: 32000, Memory: 128 * gib, Extended: map[string]int64{"rdma/hca": 1}}},
			}},
			gangs: []Gang{
				{ID: "j", Created: t0, Pods: []PodSpec{{Requests: Resources{MilliCPU: 1000, Extended: map[string]int64{"rdma/hca": 1}}}}},
				{ID: "k", Created: t0.Add(1), Pods: []PodSpec{{Requests: Resources{MilliCPU: 1000, Extended: map[string]int64{"rdma/hca": 1}}}}},
			},
			want: Result{
				Bindings: []Binding{bind("j", "b")},
				Pending:  []Pending{pending("k", ReasonInsufficient, "needs one node with 1 core, 1 rdma/hca free; no node has that free now")},
			},
		},
		"pod slots are counted": {
			snap: Snapshot{
				Nodes: []Node{{Name: "a", Allocatable: Resources{MilliCPU: 64000, Memory: 64 * gib, Pods: 2}}},
				Pods:  []Pod{pod("a", Resources{}, "")},
			},
			gangs: []Gang{gang("j", 2, res(1, 1, 0))},
			want: Result{Pending: []Pending{pending("j", ReasonOtherSchedulers,
				"needs room for 2 pods of 1 core, 1 GiB; pods of other schedulers leave room for only 1")}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got := Schedule(tc.snap, tc.gangs, tc.opts, t0)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Schedule() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// backfillSnapshot: n1 full, n2 has 3 cores free, n3 has 2, n4 is empty.
// A head needing two whole nodes reserves n4 and n2 (the freest).
func backfillSnapshot() Snapshot {
	return Snapshot{
		Nodes: []Node{node("n1", 8, 16, 0), node("n2", 8, 16, 0), node("n3", 8, 16, 0), node("n4", 8, 16, 0)},
		Pods: []Pod{
			pod("n1", res(8, 8, 0), "t"),
			pod("n2", res(5, 8, 0), "t"),
			pod("n3", res(6, 8, 0), "t"),
		},
	}
}

func TestExplain(t *testing.T) {
	snap := Snapshot{
		Nodes: []Node{node("a", 16, 64, 0), node("b", 16, 64, 0), withLabels(node("g", 16, 64, 2), "gpu", "t4")},
		Pods:  []Pod{pod("a", res(12, 8, 0), "acme")},
	}
	for name, tc := range map[string]struct {
		gang Gang
		opts Options
		want string
	}{
		"fits": {
			gang: multiNode(gang("j", 2, res(4, 4, 0))),
			want: "fits now: 2 pods on 2 nodes (a, b)",
		},
		"does not fit now": {
			gang: multiNode(gang("j", 2, res(8, 4, 0))),
			want: "needs 2 nodes with 8 cores, 4 GiB free on nodes of one weight class; 1 fit",
		},
		"selector": {
			gang: selecting(gang("j", 1, res(1, 1, 0)), "gpu", "a100"),
			want: "no node matches node selector gpu=a100",
		},
		"isolation": {
			gang: ofTenant(multiNode(gang("j", 2, res(2, 2, 0))), "globex"),
			opts: Options{TenantIsolation: true},
			want: "tenant isolation: 1 node with room used by other tenants; needs 2 nodes with 2 cores, 2 GiB free on nodes of one weight class, 1 fit",
		},
		"larger than the cluster": {
			gang: multiNode(gang("j", 40, res(1, 1, 0))),
			want: "larger than the cluster: needs 40 nodes with 1 core, 1 GiB, cluster has 3, at most 2 in one weight class",
		},
	} {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Explain(snap, tc.gang, tc.opts)); diff != "" {
				t.Errorf("Explain() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWaitingIsNowMinusCreated(t *testing.T) {
	snap := Snapshot{Nodes: []Node{node("a", 1, 1, 0)}}
	got := Schedule(snap, []Gang{gang("j", 1, res(2, 1, 0))}, Options{}, t0.Add(90e9))
	if len(got.Pending) != 1 || got.Pending[0].Waiting != 90e9 {
		t.Fatalf("Pending = %+v, want one entry waiting 90s", got.Pending)
	}
	if !strings.HasPrefix(got.Pending[0].Reason, "larger than any node") {
		t.Errorf("Reason = %q", got.Pending[0].Reason)
	}
}
