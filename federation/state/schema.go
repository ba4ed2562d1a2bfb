package state

import (
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/hashicorp/go-memdb"
)

func idx(name string, unique, allowMissing bool, ix memdb.Indexer) *memdb.IndexSchema {
	return &memdb.IndexSchema{Name: name, Unique: unique, AllowMissing: allowMissing, Indexer: ix}
}

func tbl(name string, ixs ...*memdb.IndexSchema) *memdb.TableSchema {
	t := &memdb.TableSchema{Name: name, Indexes: make(map[string]*memdb.IndexSchema, len(ixs))}
	for _, ix := range ixs {
		t.Indexes[ix.Name] = ix
	}
	return t
}

// schema returns the tables and their indexes. Every "id" index is unique.
func schema() *memdb.DBSchema {
	tables := []*memdb.TableSchema{
		tbl(TableTenants, idx("id", true, false, strIndex(func(o any) string { return o.(*structs.Tenant).Name }))),
		tbl(TableTeams, idx("id", true, false, pairIndex(func(o any) (string, string) {
			t := o.(*structs.Team)
			return t.Tenant, t.Name
		}))),
		tbl(TableUsers,
			idx("id", true, false, strIndex(func(o any) string { return o.(*structs.User).Username })),
			idx("tenant", false, false, strIndex(func(o any) string { return o.(*structs.User).Tenant })),
			idx("apikey", false, true, multiStrIndex(func(o any) []string {
				keys := o.(*structs.User).APIKeys
				ids := make([]string, len(keys))
				for i, k := range keys {
					ids[i] = k.ID
				}
				return ids
			})),
			// Team membership (User.Teams) by tenant and team: a team's
			// members are read from here.
			idx("team", false, true, multiStrIndex(func(o any) []string {
				u := o.(*structs.User)
				keys := make([]string, len(u.Teams))
				for i, t := range u.Teams {
					keys[i] = teamKey(u.Tenant, t)
				}
				return keys
			})),
			// Identities by tenant: uids and gids are unique inside a
			// tenant with an id range. 0 is no identity.
			idx("uid", false, true, strUintIndex(func(o any) (string, uint64) {
				u := o.(*structs.User)
				if u.Identity.UID == 0 {
					return "", 0
				}
				return u.Tenant, uint64(u.Identity.UID)
			})),
			idx("gid", false, true, strUintIndex(func(o any) (string, uint64) {
				u := o.(*structs.User)
				if u.Identity.GID == 0 {
					return "", 0
				}
				return u.Tenant, uint64(u.Identity.GID)
			})),
		),
		tbl(TableClusters,
			idx("id", true, false, strIndex(func(o any) string { return o.(*structs.Cluster).Name })),
			idx("zone", false, true, strIndex(func(o any) string { return o.(*structs.Cluster).Zone })),
			idx("agent_key", false, true, strIndex(func(o any) string { return o.(*structs.Cluster).AgentKey.ID })),
		),
		tbl(TableMachineTypes,
			idx("id", true, false, strIndex(func(o any) string { return o.(*structs.MachineType).Name })),
			idx("cluster", false, true, strIndex(func(o any) string { return o.(*structs.MachineType).Cluster })),
		),
		tbl(TableVaults, idx("id", true, false, pairIndex(func(o any) (string, string) {
			v := o.(*structs.Vault)
			return v.Tenant, v.Name
		}))),
		tbl(TableApps, idx("id", true, false, strIndex(func(o any) string { return o.(*structs.App).Name }))),
		tbl(TableLimits,
			idx("id", true, false, strIndex(func(o any) string { return o.(*structs.Limit).Name })),
			idx("tenant", false, false, strIndex(func(o any) string { return o.(*structs.Limit).Tenant })),
		),
		tbl(TableAccessRules, idx("id", true, false, strIndex(func(o any) string { return o.(*structs.AccessRule).Name }))),
		tbl(TableClaimRules, idx("id", true, false, strIndex(func(o any) string { return o.(*structs.ClaimRule).Name }))),
		tbl(TableReplicas,
			idx("id", true, false, strIndex(func(o any) string { return o.(*structs.Replica).ID })),
			idx("raft_address", false, false, strIndex(func(o any) string { return o.(*structs.Replica).RaftAddress })),
			idx("api_address", false, false, strIndex(func(o any) string { return o.(*structs.Replica).APIAddress })),
		),
		tbl(TableCloud, idx("id", true, false, strIndex(func(o any) string { return o.(*structs.CloudDeployment).Name }))),
		tbl(TableBurstRules,
			idx("id", true, false, strIndex(func(o any) string { return o.(*structs.BurstRule).Name })),
			idx("from", false, false, strIndex(func(o any) string { return o.(*structs.BurstRule).From })),
			idx("machine_type", false, false, multiStrIndex(func(o any) []string {
				return o.(*structs.BurstRule).MachineTypes()
			})),
		),
		// Empty: the jobs, in play and finished, are kept in the
		// archive (live.go, archive.go); the table names their modify
		// index, which the agent's watch, the SSE streams, the portal and
		// `--follow` wait on.
		tbl(TableJobs,
			idx("id", true, false, strIndex(func(o any) string { return o.(*structs.Job).ID })),
		),
		// Empty: accounting records are kept in the archive
		// (archive.go); the table names their modify index.
		tbl(TableAccounting,
			idx("id", true, false, strIndex(func(o any) string { return o.(*structs.AccountingRecord).ID })),
			idx("seq", true, false, uintIndex(func(o any) uint64 { return o.(*structs.AccountingRecord).Seq })),
			idx("tenant", true, false, strUintIndex(func(o any) (string, uint64) {
				r := o.(*structs.AccountingRecord)
				return r.Tenant, r.Seq
			})),
		),
		// Empty: audit events are kept in the archive (history.go); the
		// table names their modify index.
		tbl(TableAudit,
			idx("id", true, false, strIndex(func(o any) string { return o.(*structs.AuditEvent).ID })),
		),
	}
	tables = append(tables, serviceTables()...)
	s := &memdb.DBSchema{Tables: make(map[string]*memdb.TableSchema, len(tables))}
	for _, t := range tables {
		s.Tables[t.Name] = t
	}
	return s
}
