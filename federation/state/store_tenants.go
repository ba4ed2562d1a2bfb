package state

import (
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Tenant returns the named tenant or ErrNotFound.
func (r *ReadTxn) Tenant(name string) (*structs.Tenant, error) {
	return getByID[*structs.Tenant](r.txn, TableTenants, "tenant", name)
}

// Tenants returns every tenant, by name.
func (r *ReadTxn) Tenants() ([]*structs.Tenant, error) {
	return listAll[*structs.Tenant](r.txn, TableTenants, "id")
}

// UpsertTenant creates or replaces a tenant if the stored one meets cas.
// An id range must not overlap another tenant's, and must hold the
// identities of the tenant's users (see checkIDRange).
func (w *WriteTxn) UpsertTenant(t *structs.Tenant, cas structs.CAS) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if err := w.checkIDRange(t); err != nil {
		return err
	}
	return w.upsert(tTenants, t.Copy(), cas, "tenant", t.Name)
}

// DeleteTenant deletes a tenant that has no teams, users, vaults or limits left.
func (w *WriteTxn) DeleteTenant(name string) error {
	for _, ref := range [...]struct{ by, tbl, index string }{
		{"teams", TableTeams, "id"}, {"users", TableUsers, "tenant"},
		{"vaults", TableVaults, "id"}, {"limits", TableLimits, "tenant"},
	} {
		if err := w.refuseIfUsed("tenant", ref.by, ref.tbl, ref.index, name); err != nil {
			return err
		}
	}
	return w.remove(tTenants, "tenant", name)
}
