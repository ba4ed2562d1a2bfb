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
		return nil, w.DeleteTenant(c.Name)
	case *TeamUpsert:
		return upserted(w, w.UpsertTeam(&c.Team, c.CAS))
	case *TeamDelete:
		return nil, w.DeleteTeam(c.Tenant, c.Name)
	case *UserUpsert:
		return upserted(w, w.UpsertUser(&c.User, c.CAS))
	case *UserDelete:
		return nil, w.DeleteUser(c.Username)
	case *MachineTypeUpsert:
		return upserted(w, w.UpsertMachineType(&c.MachineType, c.CAS))
	case *MachineTypeDelete:
		return nil, w.DeleteMachineType(c.Name)
	case *ClusterUpsert:
		return upserted(w, w.UpsertCluster(&c.Cluster, c.CAS))
	case *ClusterDelete:
		return nil, w.DeleteCluster(c.Name)
	case *VaultUpsert:
		return upserted(w, w.UpsertVault(&c.Vault, c.CAS))
	case *VaultDelete:
		return nil, w.DeleteVault(c.Tenant, c.Name)
	case *AppUpsert:
		return upserted(w, w.UpsertApp(&c.App, c.CAS))
	case *AppDelete:
		return nil, w.DeleteApp(c.Name)
	case *LimitUpsert:
		return upserted(w, w.UpsertLimit(&c.Limit, c.CAS))
	case *LimitDelete:
		return nil, w.DeleteLimit(c.Name)
	case *BurstRuleUpsert:
		return upserted(w, w.UpsertBurstRule(&c.Rule, c.CAS))
	case *BurstRuleDelete:
		return nil, w.DeleteBurstRule(c.Name)
	case *AccessRuleUpsert:
		return upserted(w, w.UpsertAccessRule(&c.Rule, c.CAS))
	case *AccessRuleDelete:
		return nil, w.DeleteAccessRule(c.Name)
	case *JobSubmit:
		return w.SubmitJob(&c.Job)
	case *JobUpdateState:
		return w.UpdateJobState((*structs.JobStateUpdate)(c))
	case *JobAssign:
		return w.AssignJob((*structs.JobAssignment)(c))
	case *JobCancel:
		return w.CancelJob((*structs.JobCancel)(c))
	case *JobPurge:
		return w.PurgeJobs(c.IDs)
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
