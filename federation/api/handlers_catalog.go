package api

import (
	"slices"
	"strconv"

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
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	all, err := txn.MachineTypes()
	if err != nil {
		return nil, err
	}
	out := make([]*structs.MachineType, 0, len(all))
	for _, m := range all {
		if c.useMachineType(m) == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

func (s *Server) getMachineType(c *call) (any, error) {
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	m, err := txn.MachineType(c.r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return m, c.useMachineType(m)
}

func (s *Server) putMachineType(c *call) (any, error) {
	if err := c.id.CheckGlobalAdmin("machine types"); err != nil {
		return nil, err
	}
	m, err := decodeMachineType(c.body(), c.r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return c.writeObject(m, func(cas structs.CAS) fsm.Command { return &fsm.MachineTypeUpsert{MachineType: *m, CAS: cas} })
}

func (s *Server) deleteMachineType(c *call) (any, error) {
	name := c.r.PathValue("name")
	if err := c.id.CheckGlobalAdmin("machine types"); err != nil {
		return nil, err
	}
	return c.deleteObject(name, func(cas structs.CAS) fsm.Command { return &fsm.MachineTypeDelete{Name: name, CAS: cas} })
}

// redact hides a cluster's agent key hash from all but global administrators.
func (c *call) redact(cl *structs.Cluster) *structs.Cluster {
	if !c.id.IsGlobalAdmin() {
		cl.AgentKey = structs.APIKeyHash{}
	}
	return cl
}

func (s *Server) listClusters(c *call) (any, error) {
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	all, err := txn.Clusters()
	if err != nil {
		return nil, err
	}
	for _, cl := range all {
		c.redact(cl)
	}
	return all, nil
}

func (s *Server) getCluster(c *call) (any, error) {
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	cl, err := txn.Cluster(c.r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return c.redact(cl), nil
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

func (s *Server) deleteCluster(c *call) (any, error) {
	name := c.r.PathValue("name")
	if err := c.id.CheckGlobalAdmin("clusters"); err != nil {
		return nil, err
	}
	return c.deleteObject(name, func(cas structs.CAS) fsm.Command { return &fsm.ClusterDelete{Name: name, CAS: cas} })
}

// createAgentKey issues a new key for a cluster's agent, replacing the old one.
func (s *Server) createAgentKey(c *call) (any, error) {
	if err := c.id.CheckGlobalAdmin("clusters"); err != nil {
		return nil, err
	}
	name := c.r.PathValue("name")
	key, stored := auth.NewKey(auth.AgentKeyPrefix, s.now())
	stored.Name = "agent of " + name
	err := update(c, nil, "cluster", name,
		func(r *state.ReadTxn) (*structs.Cluster, error) { return r.Cluster(name) },
		func(cl *structs.Cluster, cas structs.CAS) (fsm.Command, error) {
			switch {
			case cl == nil:
				return nil, structs.Errorf(structs.ErrNotFound, "cluster %q", name)
			case cl.AgentKey.ID == stored.ID:
				return nil, nil // an attempt whose reply was lost stored it
			}
			cl.AgentKey = stored
			return &fsm.ClusterUpsert{Cluster: *cl, CAS: cas}, nil
		})
	if err != nil {
		return nil, err
	}
	return &structs.APIKeyCreated{
		APIKeyInfo: structs.APIKeyInfo{ID: stored.ID, Name: stored.Name, Created: stored.Created},
		Key:        key,
	}, nil
}

func (s *Server) listVaults(c *call) (any, error) {
	tenant := c.r.PathValue("tenant")
	if err := c.id.CheckReadTenant(tenant); err != nil {
		return nil, err
	}
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	return txn.VaultsByTenant(tenant)
}

func (s *Server) getVault(c *call) (any, error) {
	tenant := c.r.PathValue("tenant")
	if err := c.id.CheckReadTenant(tenant); err != nil && !c.id.IsAgent() { // see readVault
		return nil, err
	}
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	v, err := txn.Vault(tenant, c.r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return v, c.readVault(txn, v)
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

func (s *Server) listApps(c *call) (any, error) {
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	all, err := txn.Apps()
	if err != nil {
		return nil, err
	}
	out := make([]*structs.App, 0, len(all))
	for _, a := range all {
		if c.useApp(txn, a) == nil {
			out = append(out, a)
		}
	}
	return out, nil
}

func (s *Server) getApp(c *call) (any, error) {
	txn, err := c.view()
	if err != nil {
		return nil, err
	}
	a, err := txn.App(c.r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return a, c.useApp(txn, a)
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
	if err := c.id.CheckWriteApp(a); err != nil {
		return nil, err
	}
	want, err := c.casQuery()
	if err != nil {
		return nil, err
	}
	// The caller must also be allowed to write the app replaced: write
	// only if it is still the one checked.
	err = update(c, want, "app", a.Name,
		func(r *state.ReadTxn) (*structs.App, error) { return r.App(a.Name) },
		func(old *structs.App, cas structs.CAS) (fsm.Command, error) {
			if old != nil {
				if err := c.id.CheckWriteApp(old); err != nil {
					return nil, err
				}
			}
			return &fsm.AppUpsert{App: *a, CAS: cas}, nil
		})
	return a, err
}

func (s *Server) deleteApp(c *call) (any, error) {
	name := c.r.PathValue("name")
	return deleteChecked(c, "app", name, func(r *state.ReadTxn) (*structs.App, error) { return r.App(name) },
		c.id.CheckWriteApp, func(cas structs.CAS) fsm.Command { return &fsm.AppDelete{Name: name, CAS: cas} })
}
