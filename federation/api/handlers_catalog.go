package api

import (
	"slices"
	"strconv"

	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/policy/access"
)

// useMachineType, useApp and readVault ask policy/access whether the
// caller may see an object of the catalog. An agent reads the machine
// types pinned to its cluster, and only the apps and vaults of the jobs
// active on its cluster (see agentRuns).
func (c *call) useMachineType(m *structs.MachineType) error {
	if c.id.IsAgent() {
		if m.Cluster == c.id.Cluster {
			return nil
		}
		return structs.Errorf(structs.ErrForbidden, "machine type %q", m.Name)
	}
	return access.MachineTypeUsable(c.id.Access(), m)
}

func (c *call) useApp(txn *state.ReadTxn, a *structs.App) error {
	if c.id.IsAgent() {
		return c.agentRuns(txn, "app "+strconv.Quote(a.Name), func(j *structs.Job) bool { return j.App == a.Name })
	}
	return access.AppVisible(c.id.Access(), a)
}

func (c *call) readVault(txn *state.ReadTxn, v *structs.Vault) error {
	if c.id.IsAgent() {
		return c.agentRuns(txn, "vault "+strconv.Quote(v.Name)+" of tenant "+strconv.Quote(v.Tenant),
			func(j *structs.Job) bool { return j.Tenant == v.Tenant && j.Vault == v.Name })
	}
	return access.VaultVisible(c.id.Access(), v)
}

// agentRuns allows the calling agent to read an object while a job
// active on its cluster (assigned, starting or running) uses it: an agent
// never reads another cluster's, or another tenant's, private apps and
// vaults.
func (c *call) agentRuns(txn *state.ReadTxn, what string, uses func(*structs.Job) bool) error {
	active, _, err := txn.ActiveClusterJobs(c.id.Cluster, 0, 0)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(active, uses) {
		return nil
	}
	return structs.Errorf(structs.ErrForbidden, "%s: no job active on cluster %q uses it", what, c.id.Cluster)
}

func (s *Server) listMachineTypes(c *call) (any, error) {
	return readList(c, (*state.ReadTxn).MachineTypes, allowedBy(c.useMachineType))
}

func (s *Server) getMachineType(c *call) (any, error) {
	name := c.r.PathValue("name")
	return readOne(c, func(r *state.ReadTxn) (*structs.MachineType, error) { return r.MachineType(name) },
		func(_ *state.ReadTxn, m *structs.MachineType) error { return c.useMachineType(m) })
}

// machineTypes are the endpoints that write machine types (an agent
// reads only its cluster's: see listMachineTypes, getMachineType).
func machineTypes() globalKind[*structs.MachineType] {
	return globalKind[*structs.MachineType]{what: "machine types", decode: decodeMachineType,
		upsert: func(m *structs.MachineType, cas structs.CAS) fsm.Command {
			return &fsm.MachineTypeUpsert{MachineType: *m, CAS: cas}
		},
		remove: func(n string, cas structs.CAS) fsm.Command { return &fsm.MachineTypeDelete{Name: n, CAS: cas} },
		inUse:  machineTypeInUse}
}

// machineTypeInUse refuses deleting a machine type that a job waiting for
// placement (SUBMITTED, HELD, QUEUED) asked for: it would otherwise wait
// for ever for a machine type that no longer exists. Jobs already on a
// cluster carry their assignment and do not need it; finished jobs keep
// its name only as history. ?force=true deletes anyway (the Cluster API
// controller does, for a cluster that is gone). The FSM's delete does not
// check this (an existing command keeps its meaning across versions), so
// a job submitted in the instant between this check and the delete can
// still lose it; its wait reason then names the unknown machine type.
func machineTypeInUse(c *call, r *state.ReadTxn, name string) error {
	if force, err := c.flag("force"); err != nil || force {
		return err
	}
	jobs, _, err := r.ListJobs(state.JobFilter{Active: true, Limit: 1, Match: func(j *structs.Job) bool {
		return j.MachineType == name && !j.State.OnCluster() && !j.State.IsTerminal()
	}})
	if err != nil {
		return err
	}
	if len(jobs) > 0 {
		return structs.Errorf(structs.ErrConflict, "machine type %q is asked for by jobs waiting for placement (job %d is %s); cancel them first, or delete with force=true",
			name, jobs[0].Number, jobs[0].State)
	}
	return nil
}

// redact hides a cluster's agent key hash from all but global
// administrators (cl may be nil).
func (c *call) redact(cl *structs.Cluster) *structs.Cluster {
	if cl != nil && !c.id.IsGlobalAdmin() {
		cl.AgentKey = structs.APIKeyHash{}
	}
	return cl
}

func (s *Server) listClusters(c *call) (any, error) {
	return readList(c, (*state.ReadTxn).Clusters,
		func(_ *state.ReadTxn, cl *structs.Cluster) (*structs.Cluster, bool) { return c.redact(cl), true })
}

func (s *Server) getCluster(c *call) (any, error) {
	name := c.r.PathValue("name")
	return readOne(c, func(r *state.ReadTxn) (*structs.Cluster, error) { cl, err := r.Cluster(name); return c.redact(cl), err }, nil)
}

func (s *Server) putCluster(c *call) (any, error) {
	if err := c.id.CheckGlobalAdmin("clusters"); err != nil {
		return nil, err
	}
	spec, err := decodeClusterSpec(c.body())
	if err != nil {
		return nil, err
	}
	name := c.r.PathValue("name")
	want, err := c.casQuery()
	if err != nil {
		return nil, err
	}
	// The agent key and a pending bootstrap token are kept: write only if
	// the cluster is still the one read (see update).
	var cl *structs.Cluster
	err = update(c, want, "cluster", name,
		func(r *state.ReadTxn) (*structs.Cluster, error) { return r.Cluster(name) },
		func(old *structs.Cluster, cas structs.CAS) (fsm.Command, error) {
			cl = &structs.Cluster{Name: name, Zone: spec.Zone, Labels: spec.Labels}
			if old != nil {
				cl.AgentKey, cl.BootstrapToken = old.AgentKey, old.BootstrapToken
			}
			if err := cl.Validate(); err != nil {
				return nil, err
			}
			return &fsm.ClusterUpsert{Cluster: *cl, CAS: cas}, nil
		})
	if err != nil {
		return nil, err
	}
	return cl, nil
}

// clusters are the endpoints that delete clusters (the others keep
// secrets: see putCluster, createAgentKey).
func clusters() globalKind[*structs.Cluster] {
	return globalKind[*structs.Cluster]{what: "clusters",
		remove: func(n string, cas structs.CAS) fsm.Command { return &fsm.ClusterDelete{Name: n, CAS: cas} }}
}

// createAgentKey issues a new key for a cluster's agent, replacing the old one.
func (s *Server) createAgentKey(c *call) (any, error) {
	return c.issueClusterSecret(auth.AgentKeyPrefix, "agent", func(cl *structs.Cluster) *structs.APIKeyHash { return &cl.AgentKey })
}

func (s *Server) listVaults(c *call) (any, error) {
	tenant := c.r.PathValue("tenant")
	if err := c.id.CheckReadTenant(tenant); err != nil {
		return nil, err
	}
	return readOne(c, func(r *state.ReadTxn) ([]*structs.Vault, error) { return r.VaultsByTenant(tenant) }, nil)
}

func (s *Server) getVault(c *call) (any, error) {
	tenant, name := c.r.PathValue("tenant"), c.r.PathValue("name")
	if err := c.id.CheckReadTenant(tenant); err != nil && !c.id.IsAgent() { // see readVault
		return nil, err
	}
	return readOne(c, func(r *state.ReadTxn) (*structs.Vault, error) { return r.Vault(tenant, name) }, c.readVault)
}

func (s *Server) putVault(c *call) (any, error) {
	tenant := c.r.PathValue("tenant")
	if err := c.id.CheckAdminTenant(tenant); err != nil {
		return nil, err
	}
	v, err := decodeVault(c.body(), tenant, c.r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	if err := c.id.CheckWriteVault(v); err != nil {
		return nil, err
	}
	return c.writeObject(v, func(cas structs.CAS) fsm.Command { return &fsm.VaultUpsert{Vault: *v, CAS: cas} })
}

func (s *Server) deleteVault(c *call) (any, error) {
	tenant, name := c.r.PathValue("tenant"), c.r.PathValue("name")
	if err := c.id.CheckAdminTenant(tenant); err != nil {
		return nil, err
	}
	return c.deleteObject(name, func(cas structs.CAS) fsm.Command { return &fsm.VaultDelete{Tenant: tenant, Name: name, CAS: cas} })
}

// listApps is GET /v1/apps: the apps the caller may use, without the
// batch apps of job scripts (structs.App.IsBatchApp) unless all=true.
func (s *Server) listApps(c *call) (any, error) {
	all, err := c.flag("all")
	if err != nil {
		return nil, err
	}
	return readList(c, (*state.ReadTxn).Apps, func(txn *state.ReadTxn, a *structs.App) (*structs.App, bool) {
		return a, (all || !a.IsBatchApp()) && c.useApp(txn, a) == nil
	})
}

func (s *Server) getApp(c *call) (any, error) {
	name := c.r.PathValue("name")
	return readOne(c, func(r *state.ReadTxn) (*structs.App, error) { return r.App(name) }, c.useApp)
}

// appReply is the reply to PUT /v1/apps/{name}: the app stored and the
// warnings its AppDef raised (fields the reference does not define, kept).
type appReply struct {
	*structs.App
	Warnings []string `json:"warnings,omitempty"`
}

func (s *Server) putApp(c *call) (any, error) {
	a, err := decodeApp(c.body(), c.r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	if !c.id.IsGlobalAdmin() {
		if a.Tenant == "" {
			a.Tenant = c.id.Tenant
		}
		if a.Owner == "" {
			a.Owner = c.id.Username
		}
	}
	if a.Visibility == structs.VisibilityTeam && a.Tenant == "" {
		return nil, invalid("app %q: a team app needs its tenant", a.Name)
	}
	if err := c.id.CheckWriteApp(a); err != nil {
		return nil, err
	}
	warnings, err := appdef.Check(&a.AppDef)
	if err != nil {
		return nil, err
	}
	// An app written without a pull credential keeps the one it has (a
	// catalog sync or an edit never drops it); the registries are shown,
	// never stored.
	a.PullSecretRegistries = nil
	keep := a.PullSecret == ""
	allowed := func(p *structs.App) error {
		if err := c.id.CheckWriteApp(p); err != nil {
			return err
		}
		if keep && p != a {
			a.PullSecret = p.PullSecret // p is the stored app
		}
		return nil
	}
	if _, err := replaceChecked(c, "app", a.Name, a, func(r *state.ReadTxn) (*structs.App, error) { return r.App(a.Name) },
		allowed, nil, func(cas structs.CAS) fsm.Command { return &fsm.AppUpsert{App: *a, CAS: cas} }); err != nil {
		return nil, err
	}
	return &appReply{App: a, Warnings: warnings}, nil
}

func (s *Server) deleteApp(c *call) (any, error) {
	name := c.r.PathValue("name")
	return deleteChecked(c, "app", name, func(r *state.ReadTxn) (*structs.App, error) { return r.App(name) },
		c.id.CheckWriteApp, func(cas structs.CAS) fsm.Command { return &fsm.AppDelete{Name: name, CAS: cas} })
}
