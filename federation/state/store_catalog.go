package state

import (
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Vault returns a tenant's vault or ErrNotFound.
func (r *ReadTxn) Vault(tenant, name string) (*structs.Vault, error) {
	return getByID[*structs.Vault](r.txn, TableVaults, "vault", tenant, name)
}

// Vaults returns every vault, by tenant then name.
func (r *ReadTxn) Vaults() ([]*structs.Vault, error) {
	return listAll[*structs.Vault](r.txn, TableVaults, "id")
}

// VaultsByTenant returns a tenant's vaults, by name.
func (r *ReadTxn) VaultsByTenant(tenant string) ([]*structs.Vault, error) {
	return listAll[*structs.Vault](r.txn, TableVaults, "id", tenant)
}

// UpsertVault creates or replaces a vault of an existing tenant if the
// stored one meets cas.
func (w *WriteTxn) UpsertVault(v *structs.Vault, cas structs.CAS) error {
	if err := v.Validate(); err != nil {
		return err
	}
	if err := w.mustExist(tTenants, "tenant", v.Tenant); err != nil {
		return err
	}
	return w.upsert(tVaults, v.Copy(), cas, "vault", v.Tenant, v.Name)
}

// DeleteVault deletes a vault.
func (w *WriteTxn) DeleteVault(tenant, name string) error {
	return w.remove(tVaults, "vault", tenant, name)
}

// App returns the named app or ErrNotFound.
func (r *ReadTxn) App(name string) (*structs.App, error) {
	return getByID[*structs.App](r.txn, TableApps, "app", name)
}

// Apps returns every app, by name.
func (r *ReadTxn) Apps() ([]*structs.App, error) {
	return listAll[*structs.App](r.txn, TableApps, "id")
}

// UpsertApp creates or replaces an app if the stored one meets cas.
func (w *WriteTxn) UpsertApp(a *structs.App, cas structs.CAS) error {
	if err := a.Validate(); err != nil {
		return err
	}
	return w.upsert(tApps, a.Copy(), cas, "app", a.Name)
}

// DeleteApp deletes an app.
func (w *WriteTxn) DeleteApp(name string) error {
	return w.remove(tApps, "app", name)
}
