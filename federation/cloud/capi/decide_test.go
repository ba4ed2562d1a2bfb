package capi

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func TestDecideTable(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	mine := func(name, src string, registered bool) *structs.Cluster {
		c := &structs.Cluster{Name: name, Labels: map[string]string{LabelManagedBy: ManagedByCAPI, LabelSource: src}}
		if registered {
			c.AgentKey = structs.APIKeyHash{ID: "k", SHA256: "00"}
		}
		return c
	}
	labels := func(src string) map[string]string {
		return map[string]string{LabelManagedBy: ManagedByCAPI, LabelSource: src}
	}
	mt := func(name, cluster string, cores int) *structs.MachineType {
		return &structs.MachineType{Name: name, Cluster: cluster, Cores: cores, Slots: cores, RAM: 8, ScaleMin: 1, ScaleMax: 3}
	}
	ready := func(src, name string, mts ...*structs.MachineType) Observed {
		o := Observed{Source: src, Name: name, Ready: true, MachineTypes: map[string]*structs.MachineType{}}
		for _, m := range mts {
			o.MachineTypes[m.Name] = m
		}
		return o
	}
	tests := map[string]struct {
		in   Input
		want []Action
	}{
		"nothing observed, nothing at the hub": {},
		"provisioning cluster waits": {
			in:   Input{Observed: []Observed{{Source: "ns/a", Name: "a", NotReady: "phase Provisioning, waiting for Provisioned"}}},
			want: []Action{{Kind: Wait, Cluster: "a", Source: "ns/a", Reason: "phase Provisioning, waiting for Provisioned"}},
		},
		"new provisioned cluster: register, machine types, install": {
			in: Input{Observed: []Observed{ready("ns/a", "a", mt("a-cpu", "a", 4), mt("a-big", "a", 16))}},
			want: []Action{
				{Kind: Register, Cluster: "a", Source: "ns/a", Labels: labels("ns/a")},
				{Kind: PutMachineType, Cluster: "a", Source: "ns/a", MachineType: mt("a-big", "a", 16)},
				{Kind: PutMachineType, Cluster: "a", Source: "ns/a", MachineType: mt("a-cpu", "a", 4)},
				{Kind: InstallAgent, Cluster: "a", Source: "ns/a"},
			},
		},
		"registered and connected, in line: nothing": {
			in: Input{Observed: []Observed{ready("ns/a", "a", mt("a-cpu", "a", 4))},
				Clusters:     map[string]*structs.Cluster{"a": mine("a", "ns/a", true)},
				MachineTypes: map[string]*structs.MachineType{"a-cpu": mt("a-cpu", "a", 4)}},
		},
		"installed recently, agent not registered yet: wait for it": {
			in: Input{Observed: []Observed{ready("ns/a", "a")},
				Clusters:  map[string]*structs.Cluster{"a": mine("a", "ns/a", false)},
				Installed: map[string]time.Time{"a": now.Add(-time.Minute)}, ReinstallAfter: 5 * time.Minute, Now: now},
		},
		"installed long ago, agent never registered: install again": {
			in: Input{Observed: []Observed{ready("ns/a", "a")},
				Clusters:  map[string]*structs.Cluster{"a": mine("a", "ns/a", false)},
				Installed: map[string]time.Time{"a": now.Add(-6 * time.Minute)}, ReinstallAfter: 5 * time.Minute, Now: now},
			want: []Action{{Kind: InstallAgent, Cluster: "a", Source: "ns/a"}},
		},
		"registered but not by this controller's record (restart): install": {
			in: Input{Observed: []Observed{ready("ns/a", "a")},
				Clusters: map[string]*structs.Cluster{"a": mine("a", "ns/a", false)}, Now: now},
			want: []Action{{Kind: InstallAgent, Cluster: "a", Source: "ns/a"}},
		},
		"machine type changed and one removed; admin's privileges kept": {
			in: Input{Observed: []Observed{ready("ns/a", "a", mt("a-cpu", "a", 8))},
				Clusters: map[string]*structs.Cluster{"a": mine("a", "ns/a", true)},
				MachineTypes: map[string]*structs.MachineType{
					"a-cpu": func() *structs.MachineType { m := mt("a-cpu", "a", 4); m.Privs = []string{"hpc"}; return m }(),
					"a-old": mt("a-old", "a", 2), "other": mt("other", "b", 2)}},
			want: []Action{
				{Kind: PutMachineType, Cluster: "a", Source: "ns/a",
					MachineType: func() *structs.MachineType { m := mt("a-cpu", "a", 8); m.Privs = []string{"hpc"}; return m }()},
				{Kind: DeleteMachineType, Cluster: "a", Source: "ns/a", Name: "a-old"},
			},
		},
		"cluster gone: machine types then the cluster": {
			in: Input{
				Clusters: map[string]*structs.Cluster{"a": mine("a", "ns/a", true), "manual": {Name: "manual"}},
				MachineTypes: map[string]*structs.MachineType{"a-cpu": mt("a-cpu", "a", 4), "a-gpu": mt("a-gpu", "a", 4),
					"m": mt("m", "manual", 4)}},
			want: []Action{
				{Kind: DeleteMachineType, Cluster: "a", Source: "ns/a", Name: "a-cpu"},
				{Kind: DeleteMachineType, Cluster: "a", Source: "ns/a", Name: "a-gpu"},
				{Kind: Unregister, Cluster: "a", Source: "ns/a", Reason: "the Cluster is gone, being deleted or no longer selected"},
			},
		},
		"cluster being deleted: unregistered, not registered again": {
			in: Input{Observed: []Observed{func() Observed { o := ready("ns/a", "a"); o.Deleting = true; return o }()},
				Clusters: map[string]*structs.Cluster{"a": mine("a", "ns/a", true)}},
			want: []Action{{Kind: Unregister, Cluster: "a", Source: "ns/a", Reason: "the Cluster is gone, being deleted or no longer selected"}},
		},
		"deleted cluster never registered: nothing": {
			in: Input{Observed: []Observed{func() Observed { o := ready("ns/a", "a"); o.Deleting = true; return o }()}},
		},
		"hub cluster of the same name not ours: refused, untouched": {
			in: Input{Observed: []Observed{ready("ns/east", "east", mt("e", "east", 4))},
				Clusters: map[string]*structs.Cluster{"east": {Name: "east"}}},
			want: []Action{{Kind: Refuse, Cluster: "east", Source: "ns/east",
				Reason: `the hub already has a cluster "east" that this controller did not register from this Cluster`}},
		},
		"same name from another namespace: old one unregistered, new one registered": {
			in: Input{Observed: []Observed{ready("ns2/a", "a")},
				Clusters: map[string]*structs.Cluster{"a": mine("a", "ns1/a", true)}},
			want: []Action{
				{Kind: Unregister, Cluster: "a", Source: "ns1/a", Reason: "the Cluster is gone, being deleted or no longer selected"},
				{Kind: Refuse, Cluster: "a", Source: "ns2/a",
					Reason: `the hub already has a cluster "a" that this controller did not register from this Cluster`},
			},
		},
		"two namespaces, one name: the second refused": {
			in: Input{Observed: []Observed{ready("ns1/a", "a"), ready("ns2/a", "a")}},
			want: []Action{
				{Kind: Register, Cluster: "a", Source: "ns1/a", Labels: labels("ns1/a")},
				{Kind: InstallAgent, Cluster: "a", Source: "ns1/a"},
				{Kind: Refuse, Cluster: "a", Source: "ns2/a", Reason: `hub cluster name "a" is also that of Cluster ns1/a`},
			},
		},
		"machine type name taken by another cluster: refused, rest goes on": {
			in: Input{Observed: []Observed{ready("ns/a", "a", mt("cpu", "a", 4), mt("a-gpu", "a", 4))},
				Clusters:     map[string]*structs.Cluster{"a": mine("a", "ns/a", true)},
				MachineTypes: map[string]*structs.MachineType{"cpu": mt("cpu", "east", 4)}},
			want: []Action{
				{Kind: PutMachineType, Cluster: "a", Source: "ns/a", MachineType: mt("a-gpu", "a", 4)},
				{Kind: Refuse, Cluster: "a", Source: "ns/a", Reason: `machine type "cpu" exists at the hub, pinned to "east"`},
			},
		},
		"malformed MachineDeployment reported": {
			in: Input{Observed: []Observed{func() Observed { o := ready("ns/a", "a"); o.Problems = []string{"bad md"}; return o }()},
				Clusters: map[string]*structs.Cluster{"a": mine("a", "ns/a", true)}},
			want: []Action{{Kind: Refuse, Cluster: "a", Source: "ns/a", Reason: "bad md"}},
		},
		"not ready after registration: keeps registration, waits": {
			in: Input{Observed: []Observed{{Source: "ns/a", Name: "a", NotReady: "phase Failed, waiting for Provisioned"}},
				Clusters:     map[string]*structs.Cluster{"a": mine("a", "ns/a", true)},
				MachineTypes: map[string]*structs.MachineType{"a-cpu": mt("a-cpu", "a", 4)}},
			want: []Action{{Kind: Wait, Cluster: "a", Source: "ns/a", Reason: "phase Failed, waiting for Provisioned"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if tc.in.Now.IsZero() {
				tc.in.Now = now
			}
			got := Decide(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
		})
	}
}
