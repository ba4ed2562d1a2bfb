package state

import "github.com/flotilla-hpc/flotilla/federation/structs"

// ClaimRule returns the named claim rule or ErrNotFound.
func (r *ReadTxn) ClaimRule(name string) (*structs.ClaimRule, error) {
	return getByID[*structs.ClaimRule](r.txn, TableClaimRules, "claim rule", name)
}

// ClaimRules returns every claim rule in the order they apply (priority,
// then name).
func (r *ReadTxn) ClaimRules() ([]*structs.ClaimRule, error) {
	rules, err := listAll[*structs.ClaimRule](r.txn, TableClaimRules, "id")
	if err != nil {
		return nil, err
	}
	structs.SortClaimRules(rules)
	return rules, nil
}

// UpsertClaimRule creates or replaces a claim rule if the stored one
// meets cas.
func (w *WriteTxn) UpsertClaimRule(c *structs.ClaimRule, cas structs.CAS) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return w.upsert(tClaimRules, c.Copy(), cas, "claim rule", c.Name)
}

// DeleteClaimRule deletes a claim rule.
func (w *WriteTxn) DeleteClaimRule(name string) error {
	return w.remove(tClaimRules, "claim rule", name)
}
