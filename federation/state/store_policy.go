package state

import (
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Limit returns the named limit or ErrNotFound.
func (r *ReadTxn) Limit(name string) (*structs.Limit, error) {
	return getByID[*structs.Limit](r.txn, TableLimits, "limit", name)
}

// Limits returns every limit, by name.
func (r *ReadTxn) Limits() ([]*structs.Limit, error) {
	return listAll[*structs.Limit](r.txn, TableLimits, "id")
}

// LimitsByTenant returns the limits inside a tenant (every scope), by name.
func (r *ReadTxn) LimitsByTenant(tenant string) ([]*structs.Limit, error) {
	return listAll[*structs.Limit](r.txn, TableLimits, "tenant", tenant)
}

// UpsertLimit creates or replaces a limit of an existing tenant if the
// stored one meets cas.
func (w *WriteTxn) UpsertLimit(l *structs.Limit, cas structs.CAS) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if err := w.mustExist(tTenants, "tenant", l.Tenant); err != nil {
		return err
	}
	return w.upsert(tLimits, l.Copy(), cas, "limit", l.Name)
}

// DeleteLimit deletes a limit.
func (w *WriteTxn) DeleteLimit(name string) error {
	return w.remove(tLimits, "limit", name)
}

// BurstRule returns the named burst rule or ErrNotFound.
func (r *ReadTxn) BurstRule(name string) (*structs.BurstRule, error) {
	return getByID[*structs.BurstRule](r.txn, TableBurstRules, "burst rule", name)
}

// BurstRules returns every burst rule, by name.
func (r *ReadTxn) BurstRules() ([]*structs.BurstRule, error) {
	return listAll[*structs.BurstRule](r.txn, TableBurstRules, "id")
}

// BurstRulesFrom returns the rules bursting jobs of a machine type, by name.
func (r *ReadTxn) BurstRulesFrom(machineType string) ([]*structs.BurstRule, error) {
	return listAll[*structs.BurstRule](r.txn, TableBurstRules, "from", machineType)
}

// UpsertBurstRule creates or replaces a burst rule if the stored one meets
// cas; every machine type it names must exist.
func (w *WriteTxn) UpsertBurstRule(b *structs.BurstRule, cas structs.CAS) error {
	if err := b.Validate(); err != nil {
		return err
	}
	if err := w.mustExist(tMachineTypes, "machine type", b.From); err != nil {
		return err
	}
	for _, mt := range b.To {
		if err := w.mustExist(tMachineTypes, "machine type", mt); err != nil {
			return err
		}
	}
	return w.upsert(tBurstRules, b.Copy(), cas, "burst rule", b.Name)
}

// DeleteBurstRule deletes a burst rule.
func (w *WriteTxn) DeleteBurstRule(name string) error {
	return w.remove(tBurstRules, "burst rule", name)
}

// AccessRule returns the named access rule or ErrNotFound.
func (r *ReadTxn) AccessRule(name string) (*structs.AccessRule, error) {
	return getByID[*structs.AccessRule](r.txn, TableAccessRules, "access rule", name)
}

// AccessRules returns every access rule, by name.
func (r *ReadTxn) AccessRules() ([]*structs.AccessRule, error) {
	return listAll[*structs.AccessRule](r.txn, TableAccessRules, "id")
}

// UpsertAccessRule creates or replaces an access rule if the stored one
// meets cas.
func (w *WriteTxn) UpsertAccessRule(a *structs.AccessRule, cas structs.CAS) error {
	if err := a.Validate(); err != nil {
		return err
	}
	return w.upsert(tAccessRules, a.Copy(), cas, "access rule", a.Name)
}

// DeleteAccessRule deletes an access rule.
func (w *WriteTxn) DeleteAccessRule(name string) error {
	return w.remove(tAccessRules, "access rule", name)
}
