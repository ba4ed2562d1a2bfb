package fsm

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// CommandType identifies a command in its encoding: the number the
// registry gives it. Numbers are part of the log format: never renumber or
// reuse one.
type CommandType uint8

// Command is one state change carried in the raft log: a pointer to one
// of the command types below, each listed once in the registry. Every ID
// and time in it is stamped by the writer before logging.
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
	// apply carries the command out in w and returns its result.
	apply(w *state.WriteTxn) (any, error)
}

// registry lists every command the log carries, by type number. Adding a
// command takes two steps: its type (with its apply method, in the
// commands_*.go file of its domain) and one line here. The helper says
// what the command's result is: an upsert's is the stored object's
// structs.RaftIndex, a deletion has none, the others name theirs.
var registry = newRegistry(
	upsert[TenantUpsert](1),
	deletion[TenantDelete](2),
	upsert[TeamUpsert](3),
	deletion[TeamDelete](4),
	upsert[UserUpsert](5),
	deletion[UserDelete](6),
	upsert[MachineTypeUpsert](7),
	deletion[MachineTypeDelete](8),
	upsert[ClusterUpsert](9),
	deletion[ClusterDelete](10),
	upsert[VaultUpsert](11),
	deletion[VaultDelete](12),
	upsert[AppUpsert](13),
	deletion[AppDelete](14),
	upsert[LimitUpsert](15),
	deletion[LimitDelete](16),
	upsert[BurstRuleUpsert](17),
	deletion[BurstRuleDelete](18),
	returning[JobSubmit, *structs.Job](19),
	returning[JobStateUpdate, *structs.Job](20),
	returning[JobAssignment, *structs.Job](21),
	returning[JobCancel, *structs.Job](22),
	returning[JobPurge, int](23),
	returning[ClusterHeartbeat, none](24),
	returning[AccountingAppend, *structs.AccountingRecord](25),
	returning[AuditAppend, *structs.AuditEvent](26),
	upsert[AccessRuleUpsert](27),
	deletion[AccessRuleDelete](28),
	upsert[ReplicaUpsert](29),
	deletion[ReplicaDelete](30),
	returning[AuditPurge, int](31),
	upsert[ClaimRuleUpsert](32),
	deletion[ClaimRuleDelete](33),
	// Services (issue 22): numbered from 60, apart from other work.
	upsert[ServiceAccountUpsert](60),
	deletion[ServiceAccountDelete](61),
	upsert[TriggerUpsert](62),
	deletion[TriggerDelete](63),
	upsert[VaultExportUpsert](64),
	deletion[VaultExportDelete](65),
	upsert[WebhookSettingsUpsert](66),
	upsert[SubscriptionUpsert](67),
	deletion[SubscriptionDelete](68),
	returning[DeliveryOutcomes, none](69),
	returning[DeliveryRetry, none](70),
	deletion[DeliveryDrop](71),
	// Array jobs (issue 21): 95-99.
	returning[JobCancelTasks, *structs.Job](95),
	returning[JobOutputRequest, *structs.Job](96),
	// Slurm's sbatch forms (dependencies, environment, working
	// directory): 100-104.
	returning[JobSubmitExt, *structs.Job](100),
	// Agents' features (what their runtime honours): 101.
	returning[ClusterAgent, none](101),
	// Array index lists: 102.
	returning[JobSubmitArrayList, *structs.Job](102),
	// Signals to running jobs: 103.
	returning[JobSignal, *structs.Job](103),
	// JobStateUpdate in a binary form (issue 19): 105.
	returning[JobStateUpdateBin, *structs.Job](105),
	// Share links of interactive jobs: 106.
	returning[JobShares, *structs.Job](106),
	// The webhook signing key's rotation: 107.
	returning[WebhookKeyRotate, *structs.WebhookSettings](107),
	// Performance (issue 19): 80-84.
	returning[JobAudited, *structs.Job](jobAuditedType),
	// Cloud deployments take 41 and 42, leaving 31-40 to the commands
	// being added beside them.
	upsert[CloudDeploymentUpsert](41),
	deletion[CloudDeploymentDelete](42),
)

// registration is one command type in the registry.
type registration struct {
	typ    CommandType
	name   string // the Go type's name, e.g. "JobSubmit"
	goType reflect.Type
	new    func() Command
	delete bool
	// result decodes the command's result from JSON (see DecodeResult).
	result func(json.RawMessage) (any, error)
}

// none is the result type of commands without a result.
type none struct{}

// command is the constraint of the helpers: *T is a Command.
type command[T any] interface {
	*T
	Command
}

func register[T any, P command[T]](t CommandType, result func(json.RawMessage) (any, error)) registration {
	gt := reflect.TypeFor[T]()
	return registration{typ: t, name: gt.Name(), goType: reflect.PointerTo(gt),
		new: func() Command { return P(new(T)) }, result: result}
}

// upsert registers an upsert: its result is a structs.RaftIndex.
func upsert[T any, P command[T]](t CommandType) registration {
	return register[T, P](t, decodeAs[structs.RaftIndex])
}

// deletion registers a delete: it has no result, and a writer that lost
// the reply of an attempt may take its ErrNotFound for success.
func deletion[T any, P command[T]](t CommandType) registration {
	r := register[T, P](t, decodeAs[none])
	r.delete = true
	return r
}

// returning registers a command whose result is an R (none: no result).
func returning[T any, R any, P command[T]](t CommandType) registration {
	return register[T, P](t, decodeAs[R])
}

// decodeAs decodes a result of type R; none decodes to nil.
func decodeAs[R any](raw json.RawMessage) (any, error) {
	var v R
	if _, ok := any(v).(none); ok {
		return nil, nil
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("missing result, want %T", v)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// commandRegistry finds registrations by type number and by Go type.
type commandRegistry struct {
	byType   [256]*registration
	byGoType map[reflect.Type]*registration
}

// newRegistry indexes regs; a number or a type registered twice is a
// programming error and panics when the package loads.
func newRegistry(regs ...registration) *commandRegistry {
	r := &commandRegistry{byGoType: make(map[reflect.Type]*registration, len(regs))}
	for i := range regs {
		reg := &regs[i]
		if reg.typ == 0 || r.byType[reg.typ] != nil || r.byGoType[reg.goType] != nil {
			panic(fmt.Sprintf("fsm: command %s registered as %d twice or as 0", reg.name, reg.typ))
		}
		r.byType[reg.typ], r.byGoType[reg.goType] = reg, reg
	}
	return r
}

// of returns the registration of cmd's type, or nil.
func (r *commandRegistry) of(cmd Command) *registration {
	if cmd == nil {
		return nil
	}
	return r.byGoType[reflect.TypeOf(cmd)]
}

// TypeOf returns the type number of cmd, 0 for an unregistered command.
func TypeOf(cmd Command) CommandType {
	if reg := registry.of(cmd); reg != nil {
		return reg.typ
	}
	return 0
}

// Types returns every registered type number, in order.
func Types() []CommandType {
	var out []CommandType
	for _, reg := range registry.byType {
		if reg != nil {
			out = append(out, reg.typ)
		}
	}
	return out
}

// New returns a zero command of type t, or nil for an unknown type.
func (t CommandType) New() Command {
	if reg := registry.byType[t]; reg != nil {
		return reg.new()
	}
	return nil
}

// IsDelete reports whether t deletes an object: a writer that may have
// applied such a command already (its reply was lost) takes ErrNotFound
// on a retry for success.
func (t CommandType) IsDelete() bool {
	reg := registry.byType[t]
	return reg != nil && reg.delete
}

// String returns the command's Go type name, e.g. "JobSubmit".
func (t CommandType) String() string {
	if reg := registry.byType[t]; reg != nil {
		return reg.name
	}
	return fmt.Sprintf("CommandType(%d)", uint8(t))
}

// DecodeResult decodes the JSON result of a command of type t (the value
// its apply returned, as the leader sent it to a follower that forwarded
// the command) into the type apply returns: *structs.Job for the job
// commands, structs.RaftIndex for upserts, nil for commands without one.
func DecodeResult(t CommandType, raw json.RawMessage) (any, error) {
	reg := registry.byType[t]
	if reg == nil {
		return nil, structs.Errorf(structs.ErrInvalid, "result of %s: unknown command", t)
	}
	v, err := reg.result(raw)
	if err != nil {
		return nil, fmt.Errorf("result of %s: %w", t, err)
	}
	return v, nil
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
