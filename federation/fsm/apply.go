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
		if err := w.CheckCAS(state.TableTenants, c.CAS, "tenant", c.Name); err != nil {
			return nil, err
		}
		return nil, w.DeleteTenant(c.Name)
	case *TeamUpsert:
		return upserted(w, w.UpsertTeam(&c.Team, c.CAS))
	case *TeamDelete:
		if err := w.CheckCAS(state.TableTeams, c.CAS, "team", c.Tenant, c.Name); err != nil {
			return nil, err
		}
		return nil, w.DeleteTeam(c.Tenant, c.Name)
	case *UserUpsert:
		return upserted(w, w.UpsertUser(&c.User, c.CAS))
	case *UserDelete:
		if err := w.CheckCAS(state.TableUsers, c.CAS, "user", c.Username); err != nil {
			return nil, err
		}
		return nil, w.DeleteUser(c.Username)
	case *MachineTypeUpsert:
		return upserted(w, w.UpsertMachineType(&c.MachineType, c.CAS))
	case *MachineTypeDelete:
		if err := w.CheckCAS(state.TableMachineTypes, c.CAS, "machine type", c.Name); err != nil {
			return nil, err
		}
		return nil, w.DeleteMachineType(c.Name)
	case *ClusterUpsert:
		return upserted(w, w.UpsertCluster(&c.Cluster, c.CAS))
	case *ClusterDelete:
		if err := w.CheckCAS(state.TableClusters, c.CAS, "cluster", c.Name); err != nil {
			return nil, err
		}
		return nil, w.DeleteCluster(c.Name)
	case *VaultUpsert:
		return upserted(w, w.UpsertVault(&c.Vault, c.CAS))
	case *VaultDelete:
		if err := w.CheckCAS(state.TableVaults, c.CAS, "vault", c.Tenant, c.Name); err != nil {
			return nil, err
		}
		return nil, w.DeleteVault(c.Tenant, c.Name)
	case *AppUpsert:
		return upserted(w, w.UpsertApp(&c.App, c.CAS))
	case *AppDelete:
		if err := w.CheckCAS(state.TableApps, c.CAS, "app", c.Name); err != nil {
			return nil, err
		}
		return nil, w.DeleteApp(c.Name)
	case *LimitUpsert:
		return upserted(w, w.UpsertLimit(&c.Limit, c.CAS))
	case *LimitDelete:
		if err := w.CheckCAS(state.TableLimits, c.CAS, "limit", c.Name); err != nil {
			return nil, err
		}
		return nil, w.DeleteLimit(c.Name)
	case *BurstRuleUpsert:
		return upserted(w, w.UpsertBurstRule(&c.Rule, c.CAS))
	case *BurstRuleDelete:
		if err := w.CheckCAS(state.TableBurstRules, c.CAS, "burst rule", c.Name); err != nil {
			return nil, err
		}
		return nil, w.DeleteBurstRule(c.Name)
	case *AccessRuleUpsert:
		return upserted(w, w.UpsertAccessRule(&c.Rule, c.CAS))
	case *AccessRuleDelete:
		if err := w.CheckCAS(state.TableAccessRules, c.CAS, "access rule", c.Name); err != nil {
			return nil, err
		}
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
