package fsm

import (
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// MachineTypeUpsert creates or replaces a machine type.
type MachineTypeUpsert struct {
	MachineType structs.MachineType `json:"machine_type"`
	structs.CAS
}

func (c *MachineTypeUpsert) apply(w *state.WriteTxn) (any, error) {
	return upserted(w, w.UpsertMachineType(&c.MachineType, c.CAS))
}

// MachineTypeDelete deletes a machine type no burst rule names.
type MachineTypeDelete struct {
	Name string `json:"name"`
	structs.CAS
}

func (c *MachineTypeDelete) apply(w *state.WriteTxn) (any, error) {
	return deleted(w, c.CAS, state.TableMachineTypes, "machine type", func() error { return w.DeleteMachineType(c.Name) }, c.Name)
}

// ClusterUpsert registers a cluster or updates its registration.
type ClusterUpsert struct {
	Cluster structs.Cluster `json:"cluster"`
	structs.CAS
}

func (c *ClusterUpsert) apply(w *state.WriteTxn) (any, error) {
	return upserted(w, w.UpsertCluster(&c.Cluster, c.CAS))
}

// ClusterDelete deletes a cluster no machine type is pinned to.
type ClusterDelete struct {
	Name string `json:"name"`
	structs.CAS
}

func (c *ClusterDelete) apply(w *state.WriteTxn) (any, error) {
	return deleted(w, c.CAS, state.TableClusters, "cluster", func() error { return w.DeleteCluster(c.Name) }, c.Name)
}

// ClusterHeartbeat records an agent's report.
type ClusterHeartbeat structs.ClusterHeartbeat

func (c *ClusterHeartbeat) apply(w *state.WriteTxn) (any, error) {
	return nil, w.Heartbeat((*structs.ClusterHeartbeat)(c))
}

// ClusterAgent records a cluster agent's version and features (command
// 101, gated: the hub writes it only once every replica applies it, and
// only when the agent's report differs from the recorded one).
type ClusterAgent struct {
	Cluster string            `json:"cluster"`
	Agent   structs.AgentInfo `json:"agent"`
}

func (c *ClusterAgent) apply(w *state.WriteTxn) (any, error) {
	return nil, w.SetClusterAgent(c.Cluster, &c.Agent)
}

// VaultUpsert creates or replaces a vault.
type VaultUpsert struct {
	Vault structs.Vault `json:"vault"`
	structs.CAS
}

func (c *VaultUpsert) apply(w *state.WriteTxn) (any, error) {
	return upserted(w, w.UpsertVault(&c.Vault, c.CAS))
}

// VaultDelete deletes a vault.
type VaultDelete struct {
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
	structs.CAS
}

func (c *VaultDelete) apply(w *state.WriteTxn) (any, error) {
	return deleted(w, c.CAS, state.TableVaults, "vault", func() error { return w.DeleteVault(c.Tenant, c.Name) }, c.Tenant, c.Name)
}

// AppUpsert creates or replaces an app.
type AppUpsert struct {
	App structs.App `json:"app"`
	structs.CAS
}

func (c *AppUpsert) apply(w *state.WriteTxn) (any, error) {
	return upserted(w, w.UpsertApp(&c.App, c.CAS))
}

// AppDelete deletes an app.
type AppDelete struct {
	Name string `json:"name"`
	structs.CAS
}

func (c *AppDelete) apply(w *state.WriteTxn) (any, error) {
	return deleted(w, c.CAS, state.TableApps, "app", func() error { return w.DeleteApp(c.Name) }, c.Name)
}
