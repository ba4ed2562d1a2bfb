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
func (w *WriteTxn) UpsertTenant(t *structs.Tenant, cas structs.CAS) error {
	if err := t.Validate(); err != nil {
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

// Team returns a tenant's team or ErrNotFound.
func (r *ReadTxn) Team(tenant, name string) (*structs.Team, error) {
	return getByID[*structs.Team](r.txn, TableTeams, "team", tenant, name)
}

// Teams returns every team, by tenant then name.
func (r *ReadTxn) Teams() ([]*structs.Team, error) {
	return listAll[*structs.Team](r.txn, TableTeams, "id")
}

// TeamsByTenant returns a tenant's teams, by name.
func (r *ReadTxn) TeamsByTenant(tenant string) ([]*structs.Team, error) {
	return listAll[*structs.Team](r.txn, TableTeams, "id", tenant)
}

// UpsertTeam creates or replaces a team of an existing tenant if the
// stored one meets cas.
func (w *WriteTxn) UpsertTeam(t *structs.Team, cas structs.CAS) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if err := w.mustExist(tTenants, "tenant", t.Tenant); err != nil {
		return err
	}
	return w.upsert(tTeams, t.Copy(), cas, "team", t.Tenant, t.Name)
}

// DeleteTeam deletes a team.
func (w *WriteTxn) DeleteTeam(tenant, name string) error {
	return w.remove(tTeams, "team", tenant, name)
}
