package burst

import (
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeView is a View over maps.
type fakeView struct {
	mts       map[string]*structs.MachineType
	clusters  map[string]*structs.Cluster
	vaults    map[string]*structs.Vault // by tenant/name
	apps      map[string]*structs.App
	free      map[string]int
	ruleJobs  map[string]int
	ruleNodes map[string]int // by rule/cluster
}

func (v *fakeView) MachineType(n string) *structs.MachineType { return v.mts[n] }
func (v *fakeView) Cluster(n string) *structs.Cluster         { return v.clusters[n] }
func (v *fakeView) Vault(t, n string) *structs.Vault          { return v.vaults[t+"/"+n] }
func (v *fakeView) App(n string) *structs.App                 { return v.apps[n] }
func (v *fakeView) FreeNodes(mt string) int                   { return v.free[mt] }
func (v *fakeView) RuleJobs(r string) int                     { return v.ruleJobs[r] }
func (v *fakeView) RuleNodes(r, c string) int                 { return v.ruleNodes[r+"/"+c] }

func newView() *fakeView {
	return &fakeView{
		mts: map[string]*structs.MachineType{
			"cpu-east":  {Name: "cpu-east", Cores: 8, Cluster: "east", Price: 1},
			"cpu-west":  {Name: "cpu-west", Cores: 8, Cluster: "west", Price: 1.5},
			"cpu-cloud": {Name: "cpu-cloud", Cores: 8, Cluster: "cloud", Price: 3, ScaleMax: 4},
			"gpu-west":  {Name: "gpu-west", Cores: 8, GPUs: 4, Cluster: "west", Price: 9},
			"orphan":    {Name: "orphan", Cores: 8, Cluster: "nowhere"},
		},
		clusters: map[string]*structs.Cluster{
			"east":  {Name: "east", Zone: "us-east"},
			"west":  {Name: "west", Zone: "us-west"},
			"cloud": {Name: "cloud", Zone: "us-east"},
		},
		vaults: map[string]*structs.Vault{
			"acme/east-data": {Tenant: "acme", Name: "east-data", Zone: "us-east"},
			"acme/anywhere":  {Tenant: "acme", Name: "anywhere"},
		},
		apps: map[string]*structs.App{
			"solver": {Name: "solver", AppDef: structs.AppDef{Machines: []string{"cpu-*"},
				Commands: map[string]structs.Command{"gpu": {Machines: []string{"gpu-*", "cpu-east"}}}}},
			"any": {Name: "any"},
		},
		free:      map[string]int{"cpu-east": 2},
		ruleJobs:  map[string]int{},
		ruleNodes: map[string]int{},
	}
}
