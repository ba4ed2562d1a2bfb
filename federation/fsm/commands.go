package fsm

import (
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// CommandType identifies a command in its encoding. Values are part of the
// log format: never renumber or reuse one.
type CommandType uint8

// Command types.
const (
	TypeTenantUpsert      CommandType = 1
	TypeTenantDelete      CommandType = 2
	TypeTeamUpsert        CommandType = 3
	TypeTeamDelete        CommandType = 4
	TypeUserUpsert        CommandType = 5
	TypeUserDelete        CommandType = 6
	TypeMachineTypeUpsert CommandType = 7
	TypeMachineTypeDelete CommandType = 8
	TypeClusterUpsert     CommandType = 9
	TypeClusterDelete     CommandType = 10
	TypeVaultUpsert       CommandType = 11
	TypeVaultDelete       CommandType = 12
	TypeAppUpsert         CommandType = 13
	TypeAppDelete         CommandType = 14
	TypeLimitUpsert       CommandType = 15
	TypeLimitDelete       CommandType = 16
	TypeBurstRuleUpsert   CommandType = 17
	TypeBurstRuleDelete   CommandType = 18
	TypeJobSubmit         CommandType = 19
	TypeJobUpdateState    CommandType = 20
	TypeJobAssign         CommandType = 21
	TypeJobCancel         CommandType = 22
	TypeJobPurge          CommandType = 23
	TypeClusterHeartbeat  CommandType = 24
	TypeAccountingAppend  CommandType = 25
	TypeAuditAppend       CommandType = 26
	TypeAccessRuleUpsert  CommandType = 27
	TypeAccessRuleDelete  CommandType = 28
	TypeReplicaUpsert     CommandType = 29
	TypeReplicaDelete     CommandType = 30
)

// newCommand returns a zero command of type t, or nil for an unknown type.
func newCommand(t CommandType) Command {
	switch t {
	case TypeTenantUpsert:
		return new(TenantUpsert)
	case TypeTenantDelete:
		return new(TenantDelete)
	case TypeTeamUpsert:
		return new(TeamUpsert)
	case TypeTeamDelete:
		return new(TeamDelete)
	case TypeUserUpsert:
		return new(UserUpsert)
	case TypeUserDelete:
		return new(UserDelete)
	case TypeMachineTypeUpsert:
		return new(MachineTypeUpsert)
	case TypeMachineTypeDelete:
		return new(MachineTypeDelete)
	case TypeClusterUpsert:
		return new(ClusterUpsert)
	case TypeClusterDelete:
		return new(ClusterDelete)
	case TypeVaultUpsert:
		return new(VaultUpsert)
	case TypeVaultDelete:
		return new(VaultDelete)
	case TypeAppUpsert:
		return new(AppUpsert)
	case TypeAppDelete:
		return new(AppDelete)
	case TypeLimitUpsert:
		return new(LimitUpsert)
	case TypeLimitDelete:
		return new(LimitDelete)
	case TypeBurstRuleUpsert:
		return new(BurstRuleUpsert)
	case TypeBurstRuleDelete:
		return new(BurstRuleDelete)
	case TypeJobSubmit:
		return new(JobSubmit)
	case TypeJobUpdateState:
		return new(JobUpdateState)
	case TypeJobAssign:
		return new(JobAssign)
	case TypeJobCancel:
		return new(JobCancel)
	case TypeJobPurge:
		return new(JobPurge)
	case TypeClusterHeartbeat:
		return new(ClusterHeartbeat)
	case TypeAccountingAppend:
		return new(AccountingAppend)
	case TypeAccessRuleUpsert:
		return new(AccessRuleUpsert)
	case TypeAccessRuleDelete:
		return new(AccessRuleDelete)
	case TypeAuditAppend:
		return new(AuditAppend)
	case TypeReplicaUpsert:
		return new(ReplicaUpsert)
	case TypeReplicaDelete:
		return new(ReplicaDelete)
	}
	return nil
}

// Command is one state change carried in the raft log. Every ID and time
// in it is stamped by the writer before logging.
//
// Every upsert embeds a structs.CAS: its ExpectModifyIndex (> 0) makes the
// write apply only if the stored object still has that modify index, and
// its ExpectAbsent only if there is none; otherwise the command fails with
// ErrConflict and changes nothing. Read-modify-write updates set it to the
// index they read, so a concurrent update is refused instead of lost. Both
// fields are omitted from the encoding when zero: entries written before
// they existed decode and apply unconditionally, as they always did.
// An upsert's result is the stored object's structs.RaftIndex (its create
// and modify index), the value a next conditional write expects.
type Command interface {
	CommandType() CommandType
}

// TenantUpsert creates or replaces a tenant.
type TenantUpsert struct {
	Tenant structs.Tenant `json:"tenant"`
	structs.CAS
}

// TenantDelete deletes a tenant with no teams, users, vaults or limits.
type TenantDelete struct {
	Name string `json:"name"`
	structs.CAS
}

// TeamUpsert creates or replaces a team.
type TeamUpsert struct {
	Team structs.Team `json:"team"`
	structs.CAS
}

// TeamDelete deletes a team.
type TeamDelete struct {
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
	structs.CAS
}

// UserUpsert creates or replaces a user.
type UserUpsert struct {
	User structs.User `json:"user"`
	structs.CAS
}

// UserDelete deletes a user.
type UserDelete struct {
	Username string `json:"username"`
	structs.CAS
}

// MachineTypeUpsert creates or replaces a machine type.
type MachineTypeUpsert struct {
	MachineType structs.MachineType `json:"machine_type"`
	structs.CAS
}

// MachineTypeDelete deletes a machine type no burst rule names.
type MachineTypeDelete struct {
	Name string `json:"name"`
	structs.CAS
}

// ClusterUpsert registers a cluster or updates its registration.
type ClusterUpsert struct {
	Cluster structs.Cluster `json:"cluster"`
	structs.CAS
}

// ClusterDelete deletes a cluster no machine type is pinned to.
type ClusterDelete struct {
	Name string `json:"name"`
	structs.CAS
}

// VaultUpsert creates or replaces a vault.
type VaultUpsert struct {
	Vault structs.Vault `json:"vault"`
	structs.CAS
}

// VaultDelete deletes a vault.
type VaultDelete struct {
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
	structs.CAS
}

// AppUpsert creates or replaces an app.
type AppUpsert struct {
	App structs.App `json:"app"`
	structs.CAS
}

// AppDelete deletes an app.
type AppDelete struct {
	Name string `json:"name"`
	structs.CAS
}

// LimitUpsert creates or replaces a limit.
type LimitUpsert struct {
	Limit structs.Limit `json:"limit"`
	structs.CAS
}

// LimitDelete deletes a limit.
type LimitDelete struct {
	Name string `json:"name"`
	structs.CAS
}

// BurstRuleUpsert creates or replaces a burst rule.
type BurstRuleUpsert struct {
	Rule structs.BurstRule `json:"rule"`
	structs.CAS
}

// BurstRuleDelete deletes a burst rule.
type BurstRuleDelete struct {
	Name string `json:"name"`
	structs.CAS
}

// JobSubmit stores a new job; the FSM assigns its number and name. Result:
// *structs.Job.
type JobSubmit struct {
	Job structs.Job `json:"job"`
}

// JobUpdateState reports job progress. Result: *structs.Job, or a
// *structs.TransitionError for an illegal transition. Its guards (Number,
// Cluster, CAS) make a stale report or a stale dispatch decision fail
// without changing anything.
type JobUpdateState structs.JobStateUpdate

// JobAssign places a job on a cluster, if the job still meets its CAS.
// Result: *structs.Job.
type JobAssign structs.JobAssignment

// JobCancel cancels or terminates a job. Result: *structs.Job.
type JobCancel structs.JobCancel

// JobPurge deletes terminal jobs and keeps an accounting record of each
// (see state.WriteTxn.PurgeEnded): those listed in IDs, or, with
// EndedBefore set (the leader's retention, which stamps it from its
// clock), the ones that ended before it, oldest first, at most Limit.
// Result: the number deleted (int); fewer than Limit means none is left.
type JobPurge struct {
	IDs         []string  `json:"ids,omitempty"`
	EndedBefore time.Time `json:"ended_before,omitzero"`
	Limit       int       `json:"limit,omitempty"`
}

// ClusterHeartbeat records an agent's report.
type ClusterHeartbeat structs.ClusterHeartbeat

// AccountingAppend stores an accounting record. Result:
// *structs.AccountingRecord with its Seq.
type AccountingAppend struct {
	Record structs.AccountingRecord `json:"record"`
}

// AuditAppend stores an audit event. Result: *structs.AuditEvent with its Seq.
type AuditAppend struct {
	Event structs.AuditEvent `json:"event"`
}

// CommandType methods.
func (TenantUpsert) CommandType() CommandType      { return TypeTenantUpsert }
func (TenantDelete) CommandType() CommandType      { return TypeTenantDelete }
func (TeamUpsert) CommandType() CommandType        { return TypeTeamUpsert }
func (TeamDelete) CommandType() CommandType        { return TypeTeamDelete }
func (UserUpsert) CommandType() CommandType        { return TypeUserUpsert }
func (UserDelete) CommandType() CommandType        { return TypeUserDelete }
func (MachineTypeUpsert) CommandType() CommandType { return TypeMachineTypeUpsert }
func (MachineTypeDelete) CommandType() CommandType { return TypeMachineTypeDelete }
func (ClusterUpsert) CommandType() CommandType     { return TypeClusterUpsert }
func (ClusterDelete) CommandType() CommandType     { return TypeClusterDelete }
func (VaultUpsert) CommandType() CommandType       { return TypeVaultUpsert }
func (VaultDelete) CommandType() CommandType       { return TypeVaultDelete }
func (AppUpsert) CommandType() CommandType         { return TypeAppUpsert }
func (AppDelete) CommandType() CommandType         { return TypeAppDelete }
func (LimitUpsert) CommandType() CommandType       { return TypeLimitUpsert }
func (LimitDelete) CommandType() CommandType       { return TypeLimitDelete }
func (BurstRuleUpsert) CommandType() CommandType   { return TypeBurstRuleUpsert }
func (BurstRuleDelete) CommandType() CommandType   { return TypeBurstRuleDelete }
func (JobSubmit) CommandType() CommandType         { return TypeJobSubmit }
func (JobUpdateState) CommandType() CommandType    { return TypeJobUpdateState }
func (JobAssign) CommandType() CommandType         { return TypeJobAssign }
func (JobCancel) CommandType() CommandType         { return TypeJobCancel }
func (JobPurge) CommandType() CommandType          { return TypeJobPurge }
func (ClusterHeartbeat) CommandType() CommandType  { return TypeClusterHeartbeat }
func (AccountingAppend) CommandType() CommandType  { return TypeAccountingAppend }
func (AuditAppend) CommandType() CommandType       { return TypeAuditAppend }
func (AccessRuleUpsert) CommandType() CommandType  { return TypeAccessRuleUpsert }
func (AccessRuleDelete) CommandType() CommandType  { return TypeAccessRuleDelete }

// AccessRuleUpsert creates or replaces an access rule.
type AccessRuleUpsert struct {
	Rule structs.AccessRule `json:"rule"`
	structs.CAS
}

// AccessRuleDelete deletes an access rule.
type AccessRuleDelete struct {
	Name string `json:"name"`
	structs.CAS
}
