package api

import (
	"io"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Access rules restrict apps, machine types, vaults and clusters to groups
// or tenants (policy/access); global administrators manage them, every user
// may read them (a denied submit names the rule).

// accessRules are the endpoints of access rules.
func accessRules() globalKind[*structs.AccessRule] {
	return globalKind[*structs.AccessRule]{what: "access rules", list: (*state.ReadTxn).AccessRules,
		get: (*state.ReadTxn).AccessRule, decode: decodeAccessRule,
		upsert: func(a *structs.AccessRule, cas structs.CAS) fsm.Command {
			return &fsm.AccessRuleUpsert{Rule: *a, CAS: cas}
		},
		remove: func(n string, cas structs.CAS) fsm.Command { return &fsm.AccessRuleDelete{Name: n, CAS: cas} }}
}

func decodeAccessRule(r io.Reader, name string) (*structs.AccessRule, error) {
	return decodeObject(r, func(a *structs.AccessRule) []pathKey { return []pathKey{{"access rule", &a.Name, name}} })
}

// claimRules are the portal's single sign-on rules: system administrators
// only, reads included (they name tenants and groups).
func claimRules() globalKind[*structs.ClaimRule] {
	return globalKind[*structs.ClaimRule]{what: "claim rules", list: (*state.ReadTxn).ClaimRules,
		get: (*state.ReadTxn).ClaimRule, decode: decodeClaimRule,
		upsert: func(r *structs.ClaimRule, cas structs.CAS) fsm.Command {
			return &fsm.ClaimRuleUpsert{Rule: *r, CAS: cas}
		},
		remove: func(n string, cas structs.CAS) fsm.Command { return &fsm.ClaimRuleDelete{Name: n, CAS: cas} }}
}

func decodeClaimRule(r io.Reader, name string) (*structs.ClaimRule, error) {
	return decodeObject(r, func(c *structs.ClaimRule) []pathKey { return []pathKey{{"claim rule", &c.Name, name}} })
}

// adminsOnly runs h for system administrators only.
func adminsOnly(what string, h handler) handler {
	return func(c *call) (any, error) {
		if err := c.id.CheckGlobalAdmin(what); err != nil {
			return nil, err
		}
		return h(c)
	}
}
