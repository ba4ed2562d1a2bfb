package scheduler

import (
	"time"
)

// t0 is the creation time of test gangs unless a test says otherwise.
var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// res builds a request or capacity in cores, GiB and GPUs.
func res(cores, gibs, gpus int64) Resources {
	return Resources{MilliCPU: cores * 1000, Memory: gibs * gib, GPU: gpus}
}

// node builds a node with 110 pod slots.
func node(name string, cores, gibs, gpus int64) Node {
	r := res(cores, gibs, gpus)
	r.Pods = 110
	return Node{Name: name, Allocatable: r}
}

func withLabels(n Node, kv ...string) Node {
	n.Labels = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		n.Labels[kv[i]] = kv[i+1]
	}
	return n
}

func withTaint(n Node, key, value string, effect TaintEffect) Node {
	n.Taints = append(n.Taints, Taint{Key: key, Value: value, Effect: effect})
	return n
}

// gang builds a gang of count equal pods created at t0.
func gang(id string, count int, r Resources) Gang {
	g := Gang{ID: id, Created: t0}
	for range count {
		g.Pods = append(g.Pods, PodSpec{Requests: r})
	}
	return g
}

func multiNode(g Gang) Gang {
	g.OnePodPerNode = true
	return g
}

func occupying(g Gang, nodes ...string) Gang {
	g.Occupied = nodes
	return g
}

func prio(g Gang, p int) Gang {
	g.Priority = p
	return g
}

func ofTenant(g Gang, t string) Gang {
	g.Tenant = t
	return g
}

func createdAt(g Gang, d time.Duration) Gang {
	g.Created = t0.Add(d)
	return g
}

func selecting(g Gang, kv ...string) Gang {
	for i := range g.Pods {
		sel := map[string]string{}
		for j := 0; j+1 < len(kv); j += 2 {
			sel[kv[j]] = kv[j+1]
		}
		g.Pods[i].NodeSelector = sel
	}
	return g
}

func tolerating(g Gang, tols ...Toleration) Gang {
	for i := range g.Pods {
		g.Pods[i].Tolerations = append([]Toleration(nil), tols...)
	}
	return g
}

func pod(nodeName string, r Resources, tenant string) Pod {
	return Pod{Node: nodeName, Requests: r, Tenant: tenant}
}

func bind(id string, nodes ...string) Binding {
	return Binding{GangID: id, Nodes: nodes}
}

func pending(id string, code ReasonCode, reason string) Pending {
	return Pending{GangID: id, Code: code, Reason: reason}
}
