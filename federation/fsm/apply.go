package fsm

import (
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// apply dispatches one decoded command to the store.
func apply(w *state.WriteTxn, cmd Command) (any, error) {
	switch c := cmd.(type) {
	case *TenantUpsert:
		return upserted(w, w.UpsertTenant(&c.Tenant, c.CAS))
	case *TenantDelete:
		return deleted(w, c.CAS, state.TableTenants, "tenant", func() error { return w.DeleteTenant(c.Name) }, c.Name)
	case *TeamUpsert:
		return upserted(w, w.UpsertTeam(&c.Team, c.CAS))
	case *TeamDelete:
		return deleted(w, c.CAS, state.TableTeams, "team", func() error { return w.DeleteTeam(c.Tenant, c.Name) }, c.Tenant, c.Name)
	case *UserUpsert:
		return upserted(w, w.UpsertUser(&c.User, c.CAS))
	case *UserDelete:
		return deleted(w, c.CAS, state.TableUsers, "user", func() error { return w.DeleteUser(c.Username) }, c.Username)
	case *MachineTypeUpsert:
		return upserted(w, w.UpsertMachineType(&c.MachineType, c.CAS))
	case *MachineTypeDelete:
		return deleted(w, c.CAS, state.TableMachineTypes, "machine type", func() error { return w.DeleteMachineType(c.Name) }, c.Name)
	case *ClusterUpsert:
		return upserted(w, w.UpsertCluster(&c.Cluster, c.CAS))
	case *ClusterDelete:
		return deleted(w, c.CAS, state.TableClusters, "cluster", func() error { return w.DeleteCluster(c.Name) }, c.Name)
	case *VaultUpsert:
		return upserted(w, w.UpsertVault(&c.Vault, c.CAS))
	case *VaultDelete:
		return deleted(w, c.CAS, state.TableVaults, "vault", func() error { return w.DeleteVault(c.Tenant, c.Name) }, c.Tenant, c.Name)
	case *AppUpsert:
		return upserted(w, w.UpsertApp(&c.App, c.CAS))
	case *AppDelete:
		return deleted(w, c.CAS, state.TableApps, "app", func() error { return w.DeleteApp(c.Name) }, c.Name)
	case *LimitUpsert:
		return upserted(w, w.UpsertLimit(&c.Limit, c.CAS))
	case *LimitDelete:
		return deleted(w, c.CAS, state.TableLimits, "limit", func() error { return w.DeleteLimit(c.Name) }, c.Name)
	case *BurstRuleUpsert:
		return upserted(w, w.UpsertBurstRule(&c.Rule, c.CAS))
	case *BurstRuleDelete:
		return deleted(w, c.CAS, state.TableBurstRules, "burst rule", func() error { return w.DeleteBurstRule(c.Name) }, c.Name)
	case *AccessRuleUpsert:
		return upserted(w, w.UpsertAccessRule(&c.Rule, c.CAS))
	case *AccessRuleDelete:
		return deleted(w, c.CAS, state.TableAccessRules, "access rule", func() error { return w.DeleteAccessRule(c.Name) }, c.Name)
	case *JobSubmit:
		return w.SubmitJob(&c.Job)
	case *JobUpdateState:
		return w.UpdateJobState((*structs.JobStateUpdate)(c))
	case *JobAssign:
		return w.AssignJob((*structs.JobAssignment)(c))
	case *JobCancel:
		return w.CancelJob((*structs.JobCancel)(c))
	case *JobPurge:
		if c.EndedBefore.IsZero() {
			return w.PurgeJobs(c.IDs)
		}
		if len(c.IDs) > 0 {
			return nil, structs.Errorf(structs.ErrInvalid, "purge: IDs and a cutoff exclude each other")
		}
		return w.PurgeEnded(c.EndedBefore, c.Limit)
	case *ClusterHeartbeat:
		return nil, w.Heartbeat((*structs.ClusterHeartbeat)(c))
	case *AccountingAppend:
		return w.AppendAccounting(&c.Record)
	case *AuditAppend:
		return w.AppendAudit(&c.Event)
	case *ReplicaUpsert:
		return upserted(w, w.UpsertReplica(&c.Replica))
	case *ReplicaDelete:
		return nil, w.DeleteReplica(c.ID)
	}
	return nil, structs.Errorf(structs.ErrInvalid, "command %T", cmd)
}

// upserted is the result of an upsert: the stored object's raft indexes
// (structs.RaftIndex), so the writer can report them and its next write
// can be conditional on them.
func upserted(w *state.WriteTxn, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return w.Inserted(), nil
}

// deleted runs del, a delete, once the command's compare-and-swap
// precondition holds for the object stored in table under key.
func deleted(w *state.WriteTxn, cas structs.CAS, table, what string, del func() error, key ...any) (any, error) {
	if err := w.CheckCAS(table, cas, what, key...); err != nil {
		return nil, err
	}
	return nil, del()
}
