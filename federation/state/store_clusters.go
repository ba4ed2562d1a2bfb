package state

import (
	"maps"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Cluster returns the named cluster or ErrNotFound.
func (r *ReadTxn) Cluster(name string) (*structs.Cluster, error) {
	return getByID[*structs.Cluster](r.txn, TableClusters, "cluster", name)
}

// Clusters returns every cluster, by name.
func (r *ReadTxn) Clusters() ([]*structs.Cluster, error) {
	return listAll[*structs.Cluster](r.txn, TableClusters, "id")
}

// ClustersByZone returns the clusters of a zone, by name.
func (r *ReadTxn) ClustersByZone(zone string) ([]*structs.Cluster, error) {
	return listAll[*structs.Cluster](r.txn, TableClusters, "zone", zone)
}

// ClusterByAgentKeyID returns the cluster whose agent key has the given
// public ID, or ErrNotFound.
func (r *ReadTxn) ClusterByAgentKeyID(id string) (*structs.Cluster, error) {
	raw, err := r.txn.First(TableClusters, "agent_key", id)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, notFound("agent key", id)
	}
	return raw.(*structs.Cluster).Copy(), nil
}

// UpsertCluster registers a cluster or updates its registration (zone,
// labels, agent key). Updating keeps the stored status, heartbeat and
// capacity; a new cluster without a status is ClusterUnknown. The stored
// cluster must meet cas (heartbeats change its modify index too).
func (w *WriteTxn) UpsertCluster(c *structs.Cluster, cas structs.CAS) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if c.AgentKey.ID != "" {
		raw, err := w.txn.First(TableClusters, "agent_key", c.AgentKey.ID)
		if err != nil {
			return err
		}
		if raw != nil && raw.(*structs.Cluster).Name != c.Name {
			return structs.Errorf(structs.ErrConflict, "agent key id %q is taken", c.AgentKey.ID)
		}
	}
	raw, err := rawByID(w.txn, TableClusters, c.Name)
	if err != nil {
		return err
	}
	existing, _ := raw.(stored)
	if err := checkCAS(cas, existing, "cluster", c.Name); err != nil {
		return err
	}
	n := c.Copy()
	if old, ok := raw.(*structs.Cluster); ok {
		n.Status, n.LastHeartbeat, n.Capacity, n.Catalog, n.Agent = old.Status, old.LastHeartbeat, old.Capacity, old.Catalog, old.Agent
		return w.insert(tClusters, n, old)
	}
	if n.Status == "" {
		n.Status = structs.ClusterUnknown
	}
	return w.insert(tClusters, n, nil)
}

// DeleteCluster deletes a cluster no machine type is pinned to.
func (w *WriteTxn) DeleteCluster(name string) error {
	if err := w.refuseIfUsed("cluster", "machine types", TableMachineTypes, "cluster", name); err != nil {
		return err
	}
	return w.remove(tClusters, "cluster", name)
}

// Heartbeat records an agent's report: time, and status and capacity when given.
func (w *WriteTxn) Heartbeat(h *structs.ClusterHeartbeat) error {
	if err := h.Validate(); err != nil {
		return err
	}
	raw, err := rawByID(w.txn, TableClusters, h.Cluster)
	if err != nil {
		return err
	}
	if raw == nil {
		return notFound("cluster", h.Cluster)
	}
	old := raw.(*structs.Cluster)
	n := *old // shallow: maps are replaced, never changed in place
	n.LastHeartbeat = h.Time
	if h.Status != "" {
		n.Status = h.Status
	}
	if h.Capacity != nil {
		n.Capacity = maps.Clone(h.Capacity)
	}
	if h.Catalog != nil {
		n.Catalog = h.Catalog.Copy()
	}
	return w.insert(tClusters, &n, old)
}

// SetClusterAgent records what the cluster's agent says of itself: its
// version and features (see structs.AgentInfo).
func (w *WriteTxn) SetClusterAgent(cluster string, a *structs.AgentInfo) error {
	if err := a.Validate(); err != nil {
		return err
	}
	raw, err := rawByID(w.txn, TableClusters, cluster)
	if err != nil {
		return err
	}
	if raw == nil {
		return notFound("cluster", cluster)
	}
	old := raw.(*structs.Cluster)
	n := *old // shallow: the agent info is replaced, never changed in place
	n.Agent = a.Copy()
	return w.insert(tClusters, &n, old)
}

// MachineType returns the named machine type or ErrNotFound.
func (r *ReadTxn) MachineType(name string) (*structs.MachineType, error) {
	return getByID[*structs.MachineType](r.txn, TableMachineTypes, "machine type", name)
}

// MachineTypes returns every machine type, by name.
func (r *ReadTxn) MachineTypes() ([]*structs.MachineType, error) {
	return listAll[*structs.MachineType](r.txn, TableMachineTypes, "id")
}

// MachineTypesByCluster returns the machine types pinned to a cluster, by name.
func (r *ReadTxn) MachineTypesByCluster(cluster string) ([]*structs.MachineType, error) {
	return listAll[*structs.MachineType](r.txn, TableMachineTypes, "cluster", cluster)
}

// UpsertMachineType creates or replaces a machine type if the stored one
// meets cas; its cluster, if set, must exist.
func (w *WriteTxn) UpsertMachineType(m *structs.MachineType, cas structs.CAS) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.Cluster != "" {
		if err := w.mustExist(tClusters, "cluster", m.Cluster); err != nil {
			return err
		}
	}
	return w.upsert(tMachineTypes, m.Copy(), cas, "machine type", m.Name)
}

// DeleteMachineType deletes a machine type no burst rule names.
func (w *WriteTxn) DeleteMachineType(name string) error {
	if err := w.refuseIfUsed("machine type", "burst rules", TableBurstRules, "machine_type", name); err != nil {
		return err
	}
	return w.remove(tMachineTypes, "machine type", name)
}
