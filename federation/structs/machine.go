package structs

import (
	"math"
	"slices"
	"strings"
)

// MachineType is a node shape users pick for a job, pinned to one cluster.
// JSON names follow JARVICE's machine definitions.
type MachineType struct {
	RaftIndex
	Name        string `json:"mc_name"`
	Description string `json:"mc_description,omitempty"`
	Arch        string `json:"mc_arch,omitempty"` // e.g. amd64, arm64
	Cores       int    `json:"mc_cores"`          // CPU request per node
	Slots       int    `json:"mc_slots"`          // CPU limit per node; == cores gives Guaranteed QoS
	GPUs        int    `json:"mc_gpus,omitempty"`
	RAM         int    `json:"mc_ram"` // GB per node
	Swap        int    `json:"mc_swap,omitempty"`
	Scratch     int    `json:"mc_scratch,omitempty"` // GB per node
	// Devices is JARVICE's comma-separated device list (GPU/RDMA/hugepages,
	// host binds, $KEY=VAL env, raw resources name[:n]).
	Devices string `json:"mc_devices,omitempty"`
	// Properties is a comma-separated list of key=value node selectors.
	Properties    string   `json:"mc_properties,omitempty"`
	ScaleMin      int      `json:"mc_scale_min"`
	ScaleMax      int      `json:"mc_scale_max"`
	Price         float64  `json:"mc_price,omitempty"` // per node-hour
	Priority      int      `json:"mc_priority,omitempty"`
	Privs         []string `json:"mc_privs,omitempty"` // groups allowed to use it; empty = all
	MaxConcurrent int      `json:"mc_max_concurrent,omitempty"`
	Cluster       string   `json:"cluster,omitempty"` // the cluster it is pinned to
}

// Copy returns a deep copy of m.
func (m *MachineType) Copy() *MachineType {
	if m == nil {
		return nil
	}
	c := *m
	c.Privs = slices.Clone(m.Privs)
	return &c
}

// Validate checks the fields a writer must supply.
func (m *MachineType) Validate() error {
	if err := validName("machine type", m.Name); err != nil {
		return err
	}
	switch {
	case m.Cores < 1 || m.Slots < 0 || m.GPUs < 0 || m.RAM < 0 || m.Swap < 0 || m.Scratch < 0:
		return invalidf("machine type %q: cores must be positive, other sizes non-negative", m.Name)
	case m.ScaleMin < 0 || m.ScaleMax < 0 || (m.ScaleMax > 0 && m.ScaleMin > m.ScaleMax):
		return invalidf("machine type %q: scale %d..%d", m.Name, m.ScaleMin, m.ScaleMax)
	case m.Price < 0 || math.IsNaN(m.Price) || math.IsInf(m.Price, 0):
		return invalidf("machine type %q: price", m.Name)
	case m.MaxConcurrent < 0:
		return invalidf("machine type %q: max concurrent", m.Name)
	}
	_, err := m.NodeSelector()
	return err
}

// NodeSelector parses Properties into a map.
func (m *MachineType) NodeSelector() (map[string]string, error) {
	if m.Properties == "" {
		return nil, nil
	}
	out := make(map[string]string)
	for _, kv := range strings.Split(m.Properties, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, invalidf("machine type %q: property %q is not key=value", m.Name, kv)
		}
		out[k] = v
	}
	return out, nil
}

// DeviceList splits Devices on commas, dropping empty entries.
func (m *MachineType) DeviceList() []string {
	var out []string
	for _, d := range strings.Split(m.Devices, ",") {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	return out
}
