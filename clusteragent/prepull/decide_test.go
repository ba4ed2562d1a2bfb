package prepull

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func TestDecide(t *testing.T) {
	mts := []*structs.MachineType{
		{Name: "cpu", Properties: "pool=cpu"},
		{Name: "arm", Properties: "pool=arm"},
		{Name: "empty", Properties: "pool=none"},
	}
	nodes := []Node{
		{Name: "c0", Arch: "amd64", Labels: map[string]string{"pool": "cpu"}},
		{Name: "c1", Arch: "amd64", Labels: map[string]string{"pool": "cpu"}},
		{Name: "a0", Arch: "arm64", Labels: map[string]string{"pool": "arm"}},
	}
	app := func(name, img string, mts ...string) structs.AgentApp {
		return structs.AgentApp{Name: name, Image: img, MachineTypes: mts}
	}
	amd := Image{Platforms: []string{"linux/amd64"}}
	multi := Image{Platforms: []string{"linux/amd64", "linux/arm64/v8"}}
	tests := map[string]struct {
		apps   []structs.AgentApp
		images map[string]Image
		pulls  map[PullKey]Pull
		want   map[string]structs.AppOnMachineType // app/mt → presence
		start  []PullKey
	}{
		"unresolved image waits": {
			apps: []structs.AgentApp{app("s", "r/s:1", "cpu")},
			want: map[string]structs.AppOnMachineType{"s/cpu": {State: structs.AppPending, Reason: "resolving image r/s:1"}},
		},
		"unreadable image fails, not unrunnable": {
			apps:   []structs.AgentApp{app("s", "r/s:1", "cpu")},
			images: map[string]Image{"r/s:1": {Err: "manifest unknown"}},
			want:   map[string]structs.AppOnMachineType{"s/cpu": {State: structs.AppFailed, Reason: "image r/s:1: manifest unknown"}},
		},
		"amd64 image: pulled on the amd64 nodes, not runnable on arm": {
			apps:   []structs.AgentApp{app("s", "r/s:1", "cpu", "arm")},
			images: map[string]Image{"r/s:1": amd},
			want: map[string]structs.AppOnMachineType{
				"s/cpu": {State: structs.AppPulling, Nodes: 2},
				"s/arm": {State: structs.AppNotRunnable, Reason: "image r/s:1 is built for linux/amd64; the nodes of machine type arm are arm64"},
			},
			start: []PullKey{{"r/s:1", "c0"}, {"r/s:1", "c1"}},
		},
		"multi-platform image runs on both; progress counted": {
			apps:   []structs.AgentApp{app("s", "r/s:1", "cpu", "arm")},
			images: map[string]Image{"r/s:1": multi},
			pulls:  map[PullKey]Pull{{"r/s:1", "c0"}: {State: PullDone}, {"r/s:1", "c1"}: {State: PullRunning}, {"r/s:1", "a0"}: {State: PullDone}},
			want: map[string]structs.AppOnMachineType{
				"s/cpu": {State: structs.AppPulling, Nodes: 2, Ready: 1},
				"s/arm": {State: structs.AppReady, Nodes: 1, Ready: 1},
			},
		},
		"a failed pull names the node": {
			apps:   []structs.AgentApp{app("s", "r/s:1", "cpu")},
			images: map[string]Image{"r/s:1": amd},
			pulls:  map[PullKey]Pull{{"r/s:1", "c0"}: {State: PullFailed, Reason: "ErrImagePull: denied"}, {"r/s:1", "c1"}: {State: PullDone}},
			want:   map[string]structs.AppOnMachineType{"s/cpu": {State: structs.AppFailed, Reason: "node c0: ErrImagePull: denied", Nodes: 2, Ready: 1}},
		},
		"opted out: checked, not pulled": {
			apps:   []structs.AgentApp{{Name: "s", Image: "r/s:1", MachineTypes: []string{"cpu"}, NoPrePull: true}},
			images: map[string]Image{"r/s:1": amd},
			want:   map[string]structs.AppOnMachineType{"s/cpu": {State: structs.AppNotPulled, Nodes: 2}},
		},
		"machine type without nodes; unknown machine type ignored": {
			apps:   []structs.AgentApp{app("s", "r/s:1", "empty", "gone")},
			images: map[string]Image{"r/s:1": amd},
			want:   map[string]structs.AppOnMachineType{"s/empty": {State: structs.AppPending, Reason: "machine type empty has no nodes"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := Decide(Input{Apps: tc.apps, MachineTypes: mts, Nodes: nodes, Images: tc.images, Pulls: tc.pulls})
			got := map[string]structs.AppOnMachineType{}
			for a, ca := range d.Catalog.Apps {
				for mt, on := range ca.MachineTypes {
					got[a+"/"+mt] = on
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("presence (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.start, d.Start); diff != "" {
				t.Errorf("pulls started (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string][]string{"cpu": {"amd64"}, "arm": {"arm64"}, "empty": nil}, d.Catalog.Arches); diff != "" {
				t.Errorf("arches (-want +got):\n%s", diff)
			}
		})
	}
}
