package structs

import "slices"

// The catalog on the clusters: the hub tells each agent which app images
// belong on its machine types (AgentCatalog); the agent pre-pulls them
// and reports, per app and machine type, whether the image is present and
// runnable there (ClusterCatalog). Placement never puts a job on a
// machine type its app's image cannot run on.

// AgentCatalog is the hub's answer to an agent's catalog read
// (GET /v1/clusters/{name}/catalog): the apps with an image that may run
// on at least one of the cluster's machine types.
type AgentCatalog struct {
	Apps  []AgentApp `json:"apps"`
	Index uint64     `json:"index"`
}

// AgentApp is one app as an agent needs it.
type AgentApp struct {
	Name  string `json:"name"`
	Image string `json:"image"`
	// MachineTypes are the cluster's machine types the app's AppDef allows
	// (its machines patterns), by name.
	MachineTypes []string `json:"machine_types"`
	// NoPrePull: the app opted out of pre-pulling; its image is still
	// checked for the nodes' architectures.
	NoPrePull bool `json:"no_prepull,omitempty"`
	// PullSecret is the app's pull credential (docker config JSON), ""
	// for a public image: the agent reads the image and pulls it with it.
	PullSecret string `json:"pull_secret,omitempty"`
}

// AppPresence is what an agent knows of an app's image on one machine
// type of its cluster.
type AppPresence string

// App presences.
const (
	AppPending     AppPresence = "pending"      // not looked at yet (image not resolved)
	AppPulling     AppPresence = "pulling"      // pull pods run on the nodes
	AppReady       AppPresence = "ready"        // the image is on every node of the machine type
	AppFailed      AppPresence = "failed"       // a pull failed (Reason), runnable as far as known
	AppNotRunnable AppPresence = "not_runnable" // the image has no variant for the nodes' architecture
	AppNotPulled   AppPresence = "not_pulled"   // runnable; the app opted out of pre-pulling
)

// ClusterCatalog is an agent's report on the catalog on its cluster.
type ClusterCatalog struct {
	// Arches are the architectures (kubernetes.io/arch) of each machine
	// type's nodes, by machine type.
	Arches map[string][]string `json:"arches,omitempty"`
	// Apps by name.
	Apps map[string]ClusterApp `json:"apps"`
}

// ClusterApp is one app's image on a cluster.
type ClusterApp struct {
	Image string `json:"image"`
	// Platforms are the image's os/arch variants ("linux/amd64"), empty
	// while unknown.
	Platforms []string `json:"platforms,omitempty"`
	// Reason says why the image could not be resolved, if it could not.
	Reason string `json:"reason,omitempty"`
	// MachineTypes by name.
	MachineTypes map[string]AppOnMachineType `json:"machine_types"`
}

// AppOnMachineType is an app's image on the nodes of one machine type.
type AppOnMachineType struct {
	State  AppPresence `json:"state"`
	Reason string      `json:"reason,omitempty"`
	Nodes  int         `json:"nodes"`           // nodes of the machine type the image can run on
	Ready  int         `json:"ready,omitempty"` // of those, nodes the image was pulled on
}

// NotRunnable returns the reason app cannot run on machine type mt of the
// cluster c reported on, and whether it cannot. An app or machine type
// the report does not name is runnable as far as the hub knows.
func (c *ClusterCatalog) NotRunnable(app, mt string) (string, bool) {
	if c == nil {
		return "", false
	}
	on, ok := c.Apps[app].MachineTypes[mt]
	if !ok || on.State != AppNotRunnable {
		return "", false
	}
	return on.Reason, true
}

// Copy returns a deep copy of c.
func (c *ClusterCatalog) Copy() *ClusterCatalog {
	if c == nil {
		return nil
	}
	n := &ClusterCatalog{Apps: make(map[string]ClusterApp, len(c.Apps))}
	if c.Arches != nil {
		n.Arches = make(map[string][]string, len(c.Arches))
		for k, v := range c.Arches {
			n.Arches[k] = slices.Clone(v)
		}
	}
	for k, a := range c.Apps {
		a.Platforms = slices.Clone(a.Platforms)
		mts := make(map[string]AppOnMachineType, len(a.MachineTypes))
		for m, v := range a.MachineTypes {
			mts[m] = v
		}
		a.MachineTypes = mts
		n.Apps[k] = a
	}
	return n
}

// Validate checks a report's states.
func (c *ClusterCatalog) Validate() error {
	if c == nil {
		return nil
	}
	for name, a := range c.Apps {
		for mt, on := range a.MachineTypes {
			switch on.State {
			case AppPending, AppPulling, AppReady, AppFailed, AppNotRunnable, AppNotPulled:
			default:
				return invalidf("catalog report: app %q on %q: state %q", name, mt, on.State)
			}
			if on.Nodes < 0 || on.Ready < 0 || on.Ready > on.Nodes {
				return invalidf("catalog report: app %q on %q: %d of %d nodes ready", name, mt, on.Ready, on.Nodes)
			}
		}
	}
	return nil
}
