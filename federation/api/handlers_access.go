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
