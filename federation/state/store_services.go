package state

import (
	"math"
	"slices"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// ServiceAccount returns a tenant's service account or ErrNotFound.
func (r *ReadTxn) ServiceAccount(tenant, name string) (*structs.ServiceAccount, error) {
	return getByID[*structs.ServiceAccount](r.txn, TableServiceAccounts, "service account", tenant, name)
}

// ServiceAccounts returns a tenant's service accounts ("": every tenant's).
func (r *ReadTxn) ServiceAccounts(tenant string) ([]*structs.ServiceAccount, error) {
	if tenant == "" {
		return listAll[*structs.ServiceAccount](r.txn, TableServiceAccounts, "id")
	}
	return listAll[*structs.ServiceAccount](r.txn, TableServiceAccounts, "tenant", tenant)
}

// ServiceAccountByAPIKeyID returns the service account holding the key
// with the given public ID, or ErrNotFound.
func (r *ReadTxn) ServiceAccountByAPIKeyID(id string) (*structs.ServiceAccount, error) {
	raw, err := r.txn.First(TableServiceAccounts, "apikey", id)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, notFound("api key", id)
	}
	return raw.(*structs.ServiceAccount).Copy(), nil
}

// UpsertServiceAccount creates or replaces a service account of an
// existing tenant (and team) if the stored one meets cas.
func (w *WriteTxn) UpsertServiceAccount(s *structs.ServiceAccount, cas structs.CAS) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := w.mustExist(tTenants, "tenant", s.Tenant); err != nil {
		return err
	}
	if s.Team != "" {
		if err := w.mustExist(tTeams, "team", s.Tenant, s.Team); err != nil {
			return err
		}
	}
	for _, k := range s.APIKeys {
		raw, err := w.txn.First(TableServiceAccounts, "apikey", k.ID)
		if err != nil {
			return err
		}
		if o, ok := raw.(*structs.ServiceAccount); ok && (o.Tenant != s.Tenant || o.Name != s.Name) {
			return structs.Errorf(structs.ErrConflict, "api key %q belongs to another service account", k.ID)
		}
	}
	return w.upsert(tServiceAccounts, s.Copy(), cas, "service account", s.Tenant, s.Name)
}

// DeleteServiceAccount deletes a service account.
func (w *WriteTxn) DeleteServiceAccount(tenant, name string) error {
	return w.remove(tServiceAccounts, "service account", tenant, name)
}

// SubmitTimesSince returns the submit times of owner's jobs submitted at
// or after since, newest first (a service account's rate).
func (r *ReadTxn) SubmitTimesSince(owner string, since time.Time) ([]time.Time, error) {
	// The jobs in play (live.go) and the finished ones (archive.go), each
	// newest first up to the first one submitted before since, merged.
	var live, done []*structs.Job
	r.ar.live.owners.DescendLessOrEqual(&structs.Job{Owner: owner, Number: math.MaxUint64}, func(j *structs.Job) bool {
		if j.Owner != owner {
			return false
		}
		live = append(live, j)
		return !j.SubmitTime.Before(since)
	})
	r.ar.owners.DescendLessOrEqual(&structs.Job{Owner: owner, Number: math.MaxUint64}, func(j *structs.Job) bool {
		if j.Owner != owner {
			return false
		}
		done = append(done, j)
		return !j.SubmitTime.Before(since)
	})
	slices.Reverse(live)
	slices.Reverse(done)
	var out []time.Time
	for _, j := range slices.Backward(mergeByNumber(live, done)) {
		if j.SubmitTime.Before(since) {
			break
		}
		out = append(out, j.SubmitTime)
	}
	return out, nil
}

// Trigger returns the named trigger or ErrNotFound.
func (r *ReadTxn) Trigger(name string) (*structs.Trigger, error) {
	return getByID[*structs.Trigger](r.txn, TableTriggers, "trigger", name)
}

// Triggers returns a tenant's triggers ("": every tenant's).
func (r *ReadTxn) Triggers(tenant string) ([]*structs.Trigger, error) {
	if tenant == "" {
		return listAll[*structs.Trigger](r.txn, TableTriggers, "id")
	}
	return listAll[*structs.Trigger](r.txn, TableTriggers, "tenant", tenant)
}

// UpsertTrigger creates or replaces a trigger whose tenant, service
// account, app and machine type exist.
func (w *WriteTxn) UpsertTrigger(t *structs.Trigger, cas structs.CAS) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if err := w.mustExist(tServiceAccounts, "service account", t.Tenant, t.ServiceAccount); err != nil {
		return err
	}
	if err := w.mustExist(tApps, "app", t.App); err != nil {
		return err
	}
	if err := w.mustExist(tMachineTypes, "machine type", t.MachineType); err != nil {
		return err
	}
	return w.upsert(tTriggers, t.Copy(), cas, "trigger", t.Name)
}

// DeleteTrigger deletes a trigger.
func (w *WriteTxn) DeleteTrigger(name string) error { return w.remove(tTriggers, "trigger", name) }

// ActiveTriggerJob returns the number of a job of owner submitted by
// trigger that has not ended, or 0.
func (r *ReadTxn) ActiveTriggerJob(owner, trigger string) (uint64, error) {
	var number uint64
	r.ar.live.each("owner", owner, 0, func(j *structs.Job) bool {
		if j.Trigger == trigger {
			number = j.Number
		}
		return number == 0
	})
	return number, nil
}

// VaultExports returns the exports of a tenant's vaults ("": every tenant's).
func (r *ReadTxn) VaultExports(tenant string) ([]*structs.VaultExport, error) {
	if tenant == "" {
		return listAll[*structs.VaultExport](r.txn, TableVaultExports, "id")
	}
	return listAll[*structs.VaultExport](r.txn, TableVaultExports, "tenant", tenant)
}

// UpsertVaultExport creates or replaces the export of an existing vault.
func (w *WriteTxn) UpsertVaultExport(e *structs.VaultExport, cas structs.CAS) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if err := w.mustExist(tVaults, "vault", e.Tenant, e.Vault); err != nil {
		return err
	}
	return w.upsert(tVaultExports, e.Copy(), cas, "vault export", exportKey(e))
}

// DeleteVaultExport deletes an export.
func (w *WriteTxn) DeleteVaultExport(tenant, vault, namespace string) error {
	return w.remove(tVaultExports, "vault export", exportKey(&structs.VaultExport{Tenant: tenant, Vault: vault, Namespace: namespace}))
}
