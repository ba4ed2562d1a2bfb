package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"

	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/jobs"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Services is what the service endpoints need of the replica beyond reads
// and writes (implemented by *hub.Hub).
type Services interface {
	// FireTrigger submits the job a trigger makes of payload.
	FireTrigger(ctx context.Context, caller *authz.Identity, name string, payload map[string]any) (*structs.Job, error)
	// CallbackSecret is the secret signing the callbacks of owner's jobs.
	CallbackSecret(owner string) (string, error)
}

// Service accounts: tenant administrators (and global ones) manage them;
// their keys are shown once, when made. An account reads itself.

func (s *Server) listServiceAccounts(c *call) (any, error) {
	tenant := c.r.PathValue("tenant")
	if err := c.id.CheckAdminTenant(tenant); err != nil {
		return nil, err
	}
	return readList(c, func(r *state.ReadTxn) ([]*structs.ServiceAccount, error) { return r.ServiceAccounts(tenant) },
		func(_ *state.ReadTxn, sa *structs.ServiceAccount) (*structs.ServiceAccount, bool) { return sa, true })
}

func (s *Server) getServiceAccount(c *call) (any, error) {
	tenant, name := c.r.PathValue("tenant"), c.r.PathValue("name")
	self := c.id.Service != nil && c.id.Service.Tenant == tenant && c.id.Service.Name == name
	if !self {
		if err := c.id.CheckAdminTenant(tenant); err != nil {
			return nil, err
		}
	}
	return readOne(c, func(r *state.ReadTxn) (*structs.ServiceAccount, error) { return r.ServiceAccount(tenant, name) }, nil)
}

func (s *Server) putServiceAccount(c *call) (any, error) {
	tenant, name := c.r.PathValue("tenant"), c.r.PathValue("name")
	if err := c.id.CheckAdminTenant(tenant); err != nil {
		return nil, err
	}
	spec, err := decodeValue[structs.ServiceAccountSpec](c.body(), nil)
	if err != nil {
		return nil, err
	}
	want, err := c.casQuery()
	if err != nil {
		return nil, err
	}
	var out *structs.ServiceAccount
	err = update(c, want, "service account", tenant+"/"+name,
		func(r *state.ReadTxn) (*structs.ServiceAccount, error) { return r.ServiceAccount(tenant, name) },
		func(old *structs.ServiceAccount, cas structs.CAS) (fsm.Command, error) {
			out = &structs.ServiceAccount{Tenant: tenant, Name: name, Team: spec.Team, Description: spec.Description,
				Disabled: spec.Disabled, Scope: spec.Scope}
			if old != nil {
				out.APIKeys = old.APIKeys
			}
			if err := out.Validate(); err != nil {
				return nil, err
			}
			return &fsm.ServiceAccountUpsert{Account: *out, CAS: cas}, nil
		})
	return out, err
}

func (s *Server) deleteServiceAccount(c *call) (any, error) {
	tenant, name := c.r.PathValue("tenant"), c.r.PathValue("name")
	if err := c.id.CheckAdminTenant(tenant); err != nil {
		return nil, err
	}
	return c.deleteObject(name, func(cas structs.CAS) fsm.Command {
		return &fsm.ServiceAccountDelete{Tenant: tenant, Name: name, CAS: cas}
	})
}

// updateServiceKeys changes a service account's keys by read-modify-write.
func (c *call) updateServiceKeys(change func(sa *structs.ServiceAccount) ([]structs.APIKeyHash, bool, error)) error {
	tenant, name := c.r.PathValue("tenant"), c.r.PathValue("name")
	if err := c.id.CheckAdminTenant(tenant); err != nil {
		return err
	}
	return update(c, nil, "service account", tenant+"/"+name,
		func(r *state.ReadTxn) (*structs.ServiceAccount, error) { return r.ServiceAccount(tenant, name) },
		func(old *structs.ServiceAccount, cas structs.CAS) (fsm.Command, error) {
			if old == nil {
				return nil, structs.Errorf(structs.ErrNotFound, "service account %q", tenant+"/"+name)
			}
			keys, changed, err := change(old)
			if err != nil || !changed {
				return nil, err
			}
			n := old.Copy()
			n.APIKeys = keys
			return &fsm.ServiceAccountUpsert{Account: *n, CAS: cas}, nil
		})
}

// createServiceKey makes a new key; the account's other keys stay valid
// (rotation: make the new one, switch, revoke the old one).
func (s *Server) createServiceKey(c *call) (any, error) {
	req, err := decodeAPIKeyRequest(c.body())
	if errors.Is(err, errEmptyBody) {
		req, err = &structs.APIKeyRequest{}, nil
	}
	if err != nil {
		return nil, err
	}
	key, stored := auth.NewKey(auth.ServiceKeyPrefix, s.now())
	stored.Name = req.Name
	err = c.updateServiceKeys(func(sa *structs.ServiceAccount) ([]structs.APIKeyHash, bool, error) {
		if slices.ContainsFunc(sa.APIKeys, func(k structs.APIKeyHash) bool { return k.ID == stored.ID }) {
			return nil, false, nil
		}
		if len(sa.APIKeys) >= 4 {
			return nil, false, structs.Errorf(structs.ErrConflict, "service account %s has 4 keys: revoke one first", sa.Subject())
		}
		return append(slices.Clone(sa.APIKeys), stored), true, nil
	})
	if err != nil {
		return nil, err
	}
	return &structs.APIKeyCreated{APIKeyInfo: structs.APIKeyInfo{ID: stored.ID, Name: stored.Name, Created: stored.Created}, Key: key}, nil
}

func (s *Server) revokeServiceKey(c *call) (any, error) {
	id := c.r.PathValue("id")
	found := false
	err := c.updateServiceKeys(func(sa *structs.ServiceAccount) ([]structs.APIKeyHash, bool, error) {
		i := slices.IndexFunc(sa.APIKeys, func(k structs.APIKeyHash) bool { return k.ID == id })
		if i < 0 {
			return nil, false, nil
		}
		found = true
		return slices.Delete(slices.Clone(sa.APIKeys), i, i+1), true, nil
	})
	if err == nil && !found {
		return nil, structs.Errorf(structs.ErrNotFound, "api key %q", id)
	}
	return &structs.Deleted{Deleted: id}, err
}

// Triggers: tenant administrators manage them (their template checked
// against the AppDef); the trigger's service account fires them.

func (s *Server) listTriggers(c *call) (any, error) {
	return readList(c, func(r *state.ReadTxn) ([]*structs.Trigger, error) { return r.Triggers("") },
		func(_ *state.ReadTxn, t *structs.Trigger) (*structs.Trigger, bool) { return t, c.id.InTenant(t.Tenant) })
}

func (s *Server) getTrigger(c *call) (any, error) {
	name := c.r.PathValue("name")
	return readOne(c, func(r *state.ReadTxn) (*structs.Trigger, error) { return r.Trigger(name) },
		func(_ *state.ReadTxn, t *structs.Trigger) error {
			if !c.id.InTenant(t.Tenant) {
				return structs.Errorf(structs.ErrNotFound, "trigger %q", name)
			}
			return nil
		})
}

func (s *Server) putTrigger(c *call) (any, error) {
	name := c.r.PathValue("name")
	t, err := decodeValue[structs.Trigger](c.body(), nil)
	if err != nil {
		return nil, err
	}
	if t.Name, err = pathName("trigger", t.Name, name); err != nil {
		return nil, err
	}
	if t.Tenant == "" {
		t.Tenant = c.id.Tenant
	}
	t.RaftIndex = structs.RaftIndex{}
	if err := c.id.CheckAdminTenant(t.Tenant); err != nil {
		return nil, err
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if old, err := c.s.reads.Store().Read().Trigger(name); err == nil && old.Tenant != t.Tenant {
		return nil, structs.Errorf(structs.ErrConflict, "trigger %q belongs to another tenant", name)
	}
	if err := jobs.ValidateTrigger(c.s.reads.Store().Read(), t); err != nil {
		return nil, err
	}
	return c.writeObject(t, func(cas structs.CAS) fsm.Command { return &fsm.TriggerUpsert{Trigger: *t, CAS: cas} })
}

func (s *Server) deleteTrigger(c *call) (any, error) {
	name := c.r.PathValue("name")
	t, err := fresh(c, func(r *state.ReadTxn) (*structs.Trigger, error) { return r.Trigger(name) })
	if err != nil {
		return nil, err
	}
	if err := c.id.CheckAdminTenant(t.Tenant); err != nil {
		return nil, err
	}
	return c.deleteObject(name, func(cas structs.CAS) fsm.Command { return &fsm.TriggerDelete{Name: name, CAS: cas} })
}

// maxPayloadBytes bounds a trigger's payload.
const maxPayloadBytes = 16 << 10

func (s *Server) fireTrigger(c *call) (any, error) {
	payload := map[string]any{}
	dec := json.NewDecoder(io.LimitReader(c.body(), maxPayloadBytes+1))
	dec.UseNumber()
	if err := dec.Decode(&payload); err != nil && !errors.Is(err, io.EOF) {
		return nil, invalid("trigger payload: want a JSON object of at most %d bytes: %v", maxPayloadBytes, err)
	}
	name := c.r.PathValue("name")
	j, err := s.services.FireTrigger(c.r.Context(), c.id, name, payload)
	if err != nil {
		return nil, err
	}
	return &structs.TriggerFired{Trigger: name, Job: j}, nil
}

// Vault exports: tenant administrators export their vaults; the agents
// of the clusters holding them read the list.

func (s *Server) listVaultExports(c *call) (any, error) {
	tenant, vault := c.r.PathValue("tenant"), c.r.PathValue("name")
	if err := c.id.CheckAdminTenant(tenant); err != nil {
		return nil, err
	}
	return readList(c, func(r *state.ReadTxn) ([]*structs.VaultExport, error) { return r.VaultExports(tenant) },
		func(_ *state.ReadTxn, e *structs.VaultExport) (*structs.VaultExport, bool) {
			return e, e.Vault == vault
		})
}

func (s *Server) putVaultExport(c *call) (any, error) {
	tenant, vault, ns := c.r.PathValue("tenant"), c.r.PathValue("name"), c.r.PathValue("namespace")
	if err := c.id.CheckAdminTenant(tenant); err != nil {
		return nil, err
	}
	e, err := decodeValue[structs.VaultExport](c.body(), nil)
	if errors.Is(err, errEmptyBody) {
		e, err = &structs.VaultExport{}, nil
	}
	if err != nil {
		return nil, err
	}
	e.Tenant, e.Vault, e.Namespace, e.RaftIndex = tenant, vault, ns, structs.RaftIndex{}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return c.writeObject(e, func(cas structs.CAS) fsm.Command { return &fsm.VaultExportUpsert{Export: *e, CAS: cas} })
}

func (s *Server) deleteVaultExport(c *call) (any, error) {
	tenant, vault, ns := c.r.PathValue("tenant"), c.r.PathValue("name"), c.r.PathValue("namespace")
	if err := c.id.CheckAdminTenant(tenant); err != nil {
		return nil, err
	}
	if err := c.write(&fsm.VaultExportDelete{Tenant: tenant, Vault: vault, Namespace: ns}); err != nil {
		return nil, err
	}
	return &structs.Deleted{Deleted: vault + " in " + ns}, nil
}

// clusterVaultExports lists, for a cluster's agent, the exports it
// carries out: each with its vault.
func (s *Server) clusterVaultExports(c *call) (any, error) {
	cluster := c.r.PathValue("name")
	if !c.id.IsGlobalAdmin() && c.id.Cluster != cluster {
		return nil, structs.Errorf(structs.ErrForbidden, "vault exports of cluster %q: its agent only", cluster)
	}
	txn := c.s.reads.Store().Read()
	all, err := txn.VaultExports("")
	if err != nil {
		return nil, err
	}
	out := []*structs.VaultExportAssignment{}
	for _, e := range all {
		if e.Cluster != "" && e.Cluster != cluster {
			continue
		}
		v, err := txn.Vault(e.Tenant, e.Vault)
		if err != nil {
			continue
		}
		out = append(out, &structs.VaultExportAssignment{Export: *e, Vault: *v})
	}
	return out, nil
}
