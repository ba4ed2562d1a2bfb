package fsm

import (
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// LimitUpsert creates or replaces a limit.
type LimitUpsert struct {
	Limit structs.Limit `json:"limit"`
	structs.CAS
}

func (c *LimitUpsert) apply(w *state.WriteTxn) (any, error) {
	return upserted(w, w.UpsertLimit(&c.Limit, c.CAS))
}

// LimitDelete deletes a limit.
type LimitDelete struct {
	Name string `json:"name"`
	structs.CAS
}

func (c *LimitDelete) apply(w *state.WriteTxn) (any, error) {
	return deleted(w, c.CAS, state.TableLimits, "limit", func() error { return w.DeleteLimit(c.Name) }, c.Name)
}

// BurstRuleUpsert creates or replaces a burst rule.
type BurstRuleUpsert struct {
	Rule structs.BurstRule `json:"rule"`
	structs.CAS
}

func (c *BurstRuleUpsert) apply(w *state.WriteTxn) (any, error) {
	return upserted(w, w.UpsertBurstRule(&c.Rule, c.CAS))
}

// BurstRuleDelete deletes a burst rule.
type BurstRuleDelete struct {
	Name string `json:"name"`
	structs.CAS
}

func (c *BurstRuleDelete) apply(w *state.WriteTxn) (any, error) {
	return deleted(w, c.CAS, state.TableBurstRules, "burst rule", func() error { return w.DeleteBurstRule(c.Name) }, c.Name)
}

// AccessRuleUpsert creates or replaces an access rule.
type AccessRuleUpsert struct {
	Rule structs.AccessRule `json:"rule"`
	structs.CAS
}

func (c *AccessRuleUpsert) apply(w *state.WriteTxn) (any, error) {
	return upserted(w, w.UpsertAccessRule(&c.Rule, c.CAS))
}

// AccessRuleDelete deletes an access rule.
type AccessRuleDelete struct {
	Name string `json:"name"`
	structs.CAS
}

func (c *AccessRuleDelete) apply(w *state.WriteTxn) (any, error) {
	return deleted(w, c.CAS, state.TableAccessRules, "access rule", func() error { return w.DeleteAccessRule(c.Name) }, c.Name)
}

// ClaimRuleUpsert creates or replaces a claim rule of the portal's single
// sign-on.
type ClaimRuleUpsert struct {
	Rule structs.ClaimRule `json:"rule"`
	structs.CAS
}

func (c *ClaimRuleUpsert) apply(w *state.WriteTxn) (any, error) {
	return upserted(w, w.UpsertClaimRule(&c.Rule, c.CAS))
}

// ClaimRuleDelete deletes a claim rule.
type ClaimRuleDelete struct {
	Name string `json:"name"`
	structs.CAS
}

func (c *ClaimRuleDelete) apply(w *state.WriteTxn) (any, error) {
	return deleted(w, c.CAS, state.TableClaimRules, "claim rule", func() error { return w.DeleteClaimRule(c.Name) }, c.Name)
}
