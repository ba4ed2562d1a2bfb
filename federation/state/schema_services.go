package state

import (
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/hashicorp/go-memdb"
)

// serviceTables are the tables of service accounts, job events, webhooks,
// triggers and vault exports (issue 22).
func serviceTables() []*memdb.TableSchema {
	return []*memdb.TableSchema{
		tbl(TableServiceAccounts,
			idx("id", true, false, pairIndex(func(o any) (string, string) {
				s := o.(*structs.ServiceAccount)
				return s.Tenant, s.Name
			})),
			idx("tenant", false, false, strIndex(func(o any) string { return o.(*structs.ServiceAccount).Tenant })),
			idx("apikey", false, true, multiStrIndex(func(o any) []string {
				keys := o.(*structs.ServiceAccount).APIKeys
				ids := make([]string, len(keys))
				for i, k := range keys {
					ids[i] = k.ID
				}
				return ids
			})),
		),
		// Empty: job events are kept in the archive (history.go); the
		// table names their modify index.
		tbl(TableEvents,
			idx("id", true, false, uintIndex(func(o any) uint64 { return o.(*structs.JobEvent).Seq })),
		),
		tbl(TableWebhookSettings, idx("id", true, false, strIndex(func(o any) string { return o.(*structs.WebhookSettings).Name }))),
		tbl(TableSubscriptions,
			idx("id", true, false, strIndex(func(o any) string { return o.(*structs.WebhookSubscription).Name })),
			idx("tenant", false, false, strIndex(func(o any) string { return o.(*structs.WebhookSubscription).Tenant })),
		),
		tbl(TableDeliveries,
			idx("id", true, false, strIndex(func(o any) string { return o.(*structs.WebhookDelivery).ID })),
			idx("state", true, false, strUintIndex(func(o any) (string, uint64) {
				d := o.(*structs.WebhookDelivery)
				return d.State, d.Seq
			})),
		),
		tbl(TableTriggers,
			idx("id", true, false, strIndex(func(o any) string { return o.(*structs.Trigger).Name })),
			idx("tenant", false, false, strIndex(func(o any) string { return o.(*structs.Trigger).Tenant })),
		),
		tbl(TableVaultExports,
			idx("id", true, false, strIndex(func(o any) string { return exportKey(o.(*structs.VaultExport)) })),
			idx("tenant", false, false, strIndex(func(o any) string { return o.(*structs.VaultExport).Tenant })),
		),
	}
}

// exportKey is a vault export's id: tenant, vault and namespace.
func exportKey(e *structs.VaultExport) string {
	return e.Tenant + "\x00" + e.Vault + "\x00" + e.Namespace
}
