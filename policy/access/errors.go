package access

import (
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Built-in rule names, as they appear in DeniedError.Rule.
const (
	RuleTenant          = "builtin:tenant"
	RuleAppVisibility   = "builtin:app-visibility"
	RuleMachineTypePriv = "builtin:machine-type-privs"
	RuleVaultTenant     = "builtin:vault-tenant"
)

// DeniedError says which rule forbids what. It wraps structs.ErrForbidden.
type DeniedError struct {
	Rule   string               // an AccessRule name or a built-in rule name
	Object structs.AccessObject // the kind of object denied
	Name   string               // its name (vaults as tenant/name)
	Reason string               // for humans
}

// Error implements error.
func (e *DeniedError) Error() string {
	return string(e.Object) + " " + e.Name + ": " + e.Reason + " (rule " + e.Rule + "): " + structs.ErrForbidden.Error()
}

// Unwrap returns structs.ErrForbidden.
func (e *DeniedError) Unwrap() error { return structs.ErrForbidden }
