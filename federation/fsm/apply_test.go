package fsm

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/raft"
)

// baseJob returns job number n of baseLog as stored.
func baseJob(n uint64) *structs.Job {
	j := testJob([]string{"", "j-1", "j-2", "j-3"}[n])
	j.Number, j.Name, j.State, j.Priority = n, structs.JobName("alice", t0, n), structs.JobSubmitted, structs.PriorityNormal
	j.RaftIndex = structs.RaftIndex{CreateIndex: 3, ModifyIndex: 3}
	switch n {
	case 2:
		j.State, j.Cluster, j.AssignTime, j.StartTime = structs.JobRunning, "east", t0.Add(time.Minute), t0.Add(2*time.Minute)
		j.ModifyIndex = 4
	case 3:
		j.State, j.Substatus, j.EndTime = structs.JobCanceled, "changed my mind", t0.Add(time.Minute)
		j.ModifyIndex = 4
	}
	return &j
}

func withJob(n uint64, mut func(j *structs.Job)) *structs.Job {
	j := baseJob(n)
	mut(j)
	j.ModifyIndex = 100
	return j
}

func kind(_ any, err error) any { return structs.KindOf(err) }

// must returns a read's value, nil on error.
func must[T any](v T, _ error) T { return v }

func jobRead(id string) func(r *state.ReadTxn) any {
	return func(r *state.ReadTxn) any { j, _ := r.Job(id); return j }
}

var created = structs.RaftIndex{CreateIndex: 100, ModifyIndex: 100}

type applyCase struct {
	before  []Command // applied first, at index 99
	cmd     Command
	raw     []byte // encoded command, used instead of cmd when set
	wantErr error
	read    func(r *state.ReadTxn) any // what the command changed
	want    any
}

func applyCases() map[string]applyCase {
	user := structs.User{Username: "bob", Email: "bob@acme.example", Tenant: "acme", Teams: []string{"cfd"},
		Groups: []string{"gpu"}, Role: structs.RoleTeamAdmin, Identity: structs.Identity{UID: 505, GID: 505},
		APIKeys:      []structs.APIKeyHash{structs.HashAPIKey("fk_bob", "fk_bob.secret")},
		PasswordHash: "$2a$10$abcdefghijklmnopqrstuv"}
	mt := structs.MachineType{Name: "ng4", Description: "4 GPUs", Arch: "amd64", Cores: 32, Slots: 32, GPUs: 4,
		RAM: 256, Scratch: 100, Devices: "nvidia.com/gpu:4,/dev/infiniband", Properties: "node.kubernetes.io/instance-type=p4d",
		ScaleMin: 1, ScaleMax: 8, Price: 32.5, Priority: 2, Privs: []string{"gpu"}, MaxConcurrent: 4, Cluster: "west"}
	app := structs.App{Name: "lammps", Owner: "alice", Tenant: "acme", Visibility: structs.VisibilityTenant,
		Image: "registry.example/lammps:2026", AppDef: structs.AppDef{Name: "LAMMPS", Description: "MD",
			Author: "acme", Machines: []string{"n*"}, VaultTypes: []structs.VaultKind{structs.VaultFile},
			ScaleMax: 16, AppDefVersion: 2, Walltime: "04:00:00", Commands: map[string]structs.Command{
				"run": {Path: "/opt/run.sh", Name: "Run", Interactive: true, Ports: []string{"5901/tcp"},
					URL: "https://%PUBLICADDR%/", Parameters: map[string]structs.Parameter{
						"np":    {Name: "Ranks", Type: structs.ParamConst, Value: json.RawMessage(`"%TCORES%"`), Positional: true, Required: true},
						"steps": {Name: "Steps", Type: structs.ParamRange, Min: 1, Max: 1e6, Step: 1, Value: json.RawMessage(`1000`)},
						"mode":  {Name: "Mode", Type: structs.ParamSelection, Values: []string{"fast", "exact"}, Variable: true},
					}}}}}
	rule := structs.BurstRule{Name: "g3-to-n3", From: "g3", To: []string{"n3", "spare"}, After: structs.Duration(15 * time.Minute),
		Tenants: []string{"acme"}, Apps: []string{"solver"}, PriceCeiling: 10, Cap: 5}
	limit := structs.Limit{Name: "bob-n3", Scope: structs.ScopeUser, Tenant: "acme", User: "bob",
		Kind: structs.LimitConcurrentJobs, MachineType: "n3", Value: 2}
	acct := structs.AccountingRecord{ID: "acct-j-3", JobID: "j-3", JobNumber: 3, Tenant: "acme", User: "alice",
		MachineType: "n3", Cluster: "east", Nodes: 2, Cores: 32, State: structs.JobCompleted,
		Start: t0, End: t0.Add(time.Hour), Price: 1.25, Cost: 2.5}
	audit := structs.AuditEvent{ID: "ev-1", Time: t0, Actor: "alice", Tenant: "acme", Action: "job.cancel",
		ObjectKind: "job", ObjectName: "j-3", Outcome: "ok"}
	capacity := map[string]structs.Capacity{"n3": {Free: 5, Total: 8}}

	return map[string]applyCase{
		"tenant upsert": {cmd: &TenantUpsert{Tenant: structs.Tenant{Name: "gamma", Isolated: true}},
			read: func(r *state.ReadTxn) any { v, _ := r.Tenant("gamma"); return v },
			want: &structs.Tenant{RaftIndex: created, Name: "gamma", Isolated: true}},
		"tenant upsert invalid": {cmd: &TenantUpsert{}, wantErr: structs.ErrInvalid},
		"tenant delete": {cmd: &TenantDelete{Name: "beta"},
			read: func(r *state.ReadTxn) any { return kind(r.Tenant("beta")) }, want: structs.ErrNotFound},
		"tenant delete in use": {cmd: &TenantDelete{Name: "acme"}, wantErr: structs.ErrConflict},
		// Without SetMembers (as every entry written before it), members
		// are stored and never read: alice is cfd's member by her Teams.
		"team upsert": {cmd: &TeamUpsert{Team: structs.Team{Tenant: "acme", Name: "cfd", Members: []string{"bob"}, Admins: []string{"alice"}}},
			read: func(r *state.ReadTxn) any { v, _ := r.Team("acme", "cfd"); return v },
			want: &structs.Team{RaftIndex: structs.RaftIndex{CreateIndex: 2, ModifyIndex: 100}, Tenant: "acme", Name: "cfd",
				Members: []string{"alice"}, Admins: []string{"alice"}}},
		"team upsert setting members": {before: []Command{&UserUpsert{User: structs.User{Username: "bob", Tenant: "acme", Role: structs.RoleUser}}},
			cmd: &TeamUpsert{Team: structs.Team{Tenant: "acme", Name: "cfd", Members: []string{"bob"}}, SetMembers: true,
				MemberCAS: map[string]uint64{"alice": 2, "bob": 99}},
			read: func(r *state.ReadTxn) any {
				tm, _ := r.Team("acme", "cfd")
				return []any{tm.Members, must(r.User("alice")).Teams, must(r.User("bob")).Teams}
			},
			want: []any{[]string{"bob"}, []string(nil), []string{"cfd"}}},
		"team upsert member changed": {before: []Command{&UserUpsert{User: structs.User{Username: "bob", Tenant: "acme", Role: structs.RoleUser}}},
			cmd: &TeamUpsert{Team: structs.Team{Tenant: "acme", Name: "cfd", Members: []string{"alice", "bob"}}, SetMembers: true,
				MemberCAS: map[string]uint64{"bob": 98}}, wantErr: structs.ErrConflict,
			read: func(r *state.ReadTxn) any { return must(r.User("bob")).Teams }, want: []string(nil)},
		"team upsert unknown member": {cmd: &TeamUpsert{Team: structs.Team{Tenant: "acme", Name: "cfd", Members: []string{"nobody"}},
			SetMembers: true}, wantErr: structs.ErrInvalid},
		"team delete": {cmd: &TeamDelete{Tenant: "acme", Name: "cfd"},
			read: func(r *state.ReadTxn) any { return []any{kind(r.Team("acme", "cfd")), must(r.User("alice")).Teams} },
			want: []any{structs.ErrNotFound, []string{"cfd"}}},
		"team delete dropping members": {cmd: &TeamDelete{Tenant: "acme", Name: "cfd", DropMembers: true},
			read: func(r *state.ReadTxn) any { return []any{kind(r.Team("acme", "cfd")), must(r.User("alice")).Teams} },
			want: []any{structs.ErrNotFound, []string(nil)}},
		"tenant upsert with an id range": {cmd: &TenantUpsert{Tenant: structs.Tenant{Name: "gamma", IDRange: structs.IDRange{Min: 100, Max: 199}}},
			read: func(r *state.ReadTxn) any { return must(r.Tenant("gamma")).IDRange }, want: structs.IDRange{Min: 100, Max: 199}},
		"tenant upsert overlapping range": {before: []Command{&TenantUpsert{Tenant: structs.Tenant{Name: "beta", IDRange: structs.IDRange{Min: 150, Max: 250}}}},
			cmd: &TenantUpsert{Tenant: structs.Tenant{Name: "gamma", IDRange: structs.IDRange{Min: 100, Max: 199}}}, wantErr: structs.ErrConflict},
		"user upsert outside the range": {before: []Command{&TenantUpsert{Tenant: structs.Tenant{Name: "beta", IDRange: structs.IDRange{Min: 150, Max: 250}}}},
			cmd:     &UserUpsert{User: structs.User{Username: "bo", Tenant: "beta", Role: structs.RoleUser, Identity: structs.Identity{UID: 300, GID: 300}}},
			wantErr: structs.ErrInvalid},
		"user upsert": {cmd: &UserUpsert{User: user},
			read: func(r *state.ReadTxn) any { v, _ := r.UserByAPIKeyID("fk_bob"); return v },
			want: func() *structs.User { u := user; u.RaftIndex = created; return &u }()},
		"user upsert unknown tenant": {cmd: &UserUpsert{User: structs.User{Username: "x", Tenant: "nope", Role: structs.RoleUser}},
			wantErr: structs.ErrInvalid},
		"user upsert cas created": {cmd: &UserUpsert{User: user, CAS: structs.CAS{ExpectAbsent: true}},
			read: func(r *state.ReadTxn) any { v, _ := r.User("bob"); return v },
			want: func() *structs.User { u := user; u.RaftIndex = created; return &u }()},
		"user upsert cas held": {cmd: &UserUpsert{User: structs.User{Username: "alice", Tenant: "acme", Role: structs.RoleUser},
			CAS: structs.CAS{ExpectModifyIndex: 2}},
			read: func(r *state.ReadTxn) any { v, _ := r.User("alice"); return v },
			want: &structs.User{RaftIndex: structs.RaftIndex{CreateIndex: 2, ModifyIndex: 100}, Username: "alice",
				Tenant: "acme", Role: structs.RoleUser}},
		"user upsert cas stale": {cmd: &UserUpsert{User: structs.User{Username: "alice", Tenant: "acme", Role: structs.RoleUser},
			CAS: structs.CAS{ExpectModifyIndex: 1}}, wantErr: structs.ErrConflict,
			read: func(r *state.ReadTxn) any { v, _ := r.User("alice"); return v },
			want: &structs.User{RaftIndex: structs.RaftIndex{CreateIndex: 2, ModifyIndex: 2}, Username: "alice",
				Tenant: "acme", Role: structs.RoleAdmin, Teams: []string{"cfd"}}},
		"user upsert cas exists": {cmd: &UserUpsert{User: structs.User{Username: "alice", Tenant: "acme", Role: structs.RoleUser},
			CAS: structs.CAS{ExpectAbsent: true}}, wantErr: structs.ErrConflict},
		"user delete": {cmd: &UserDelete{Username: "alice"},
			read: func(r *state.ReadTxn) any { return kind(r.User("alice")) }, want: structs.ErrNotFound},
		"machine type upsert": {cmd: &MachineTypeUpsert{MachineType: mt},
			read: func(r *state.ReadTxn) any { v, _ := r.MachineType("ng4"); return v },
			want: func() *structs.MachineType { m := mt; m.RaftIndex = created; return &m }()},
		"machine type delete": {cmd: &MachineTypeDelete{Name: "spare"},
			read: func(r *state.ReadTxn) any { return kind(r.MachineType("spare")) }, want: structs.ErrNotFound},
		"machine type delete in use": {cmd: &MachineTypeDelete{Name: "g3"}, wantErr: structs.ErrConflict},
		"cluster upsert": {cmd: &ClusterUpsert{Cluster: structs.Cluster{Name: "gke-1", Zone: "z3",
			Labels: map[string]string{"cloud": "gcp"}, AgentKey: structs.HashAPIKey("ag_gke", "ag_gke.s")}},
			read: func(r *state.ReadTxn) any { v, _ := r.ClusterByAgentKeyID("ag_gke"); return v },
			want: &structs.Cluster{RaftIndex: created, Name: "gke-1", Zone: "z3", Labels: map[string]string{"cloud": "gcp"},
				AgentKey: structs.HashAPIKey("ag_gke", "ag_gke.s"), Status: structs.ClusterUnknown}},
		"cluster upsert cas missing": {cmd: &ClusterUpsert{Cluster: structs.Cluster{Name: "gke-1"}, CAS: structs.CAS{ExpectModifyIndex: 1}},
			wantErr: structs.ErrConflict, read: func(r *state.ReadTxn) any { return kind(r.Cluster("gke-1")) }, want: structs.ErrNotFound},
		"cluster upsert cas held": {cmd: &ClusterUpsert{Cluster: structs.Cluster{Name: "east", Zone: "z9"}, CAS: structs.CAS{ExpectModifyIndex: 1}},
			read: func(r *state.ReadTxn) any { v, _ := r.Cluster("east"); return v },
			want: &structs.Cluster{RaftIndex: structs.RaftIndex{CreateIndex: 1, ModifyIndex: 100}, Name: "east", Zone: "z9",
				Status: structs.ClusterUnknown}},
		"cluster delete": {cmd: &ClusterDelete{Name: "idle"},
			read: func(r *state.ReadTxn) any { return kind(r.Cluster("idle")) }, want: structs.ErrNotFound},
		"cluster delete in use": {cmd: &ClusterDelete{Name: "east"}, wantErr: structs.ErrConflict},
		"cluster heartbeat": {cmd: &ClusterHeartbeat{Cluster: "east", Status: structs.ClusterReady, Capacity: capacity, Time: t0},
			read: func(r *state.ReadTxn) any { v, _ := r.Cluster("east"); return v },
			want: &structs.Cluster{RaftIndex: structs.RaftIndex{CreateIndex: 1, ModifyIndex: 100}, Name: "east", Zone: "z1",
				Status: structs.ClusterReady, LastHeartbeat: t0, Capacity: capacity}},
		"cluster heartbeat unknown": {cmd: &ClusterHeartbeat{Cluster: "nope", Time: t0}, wantErr: structs.ErrNotFound},
		"cluster agent": {cmd: &ClusterAgent{Cluster: "east", Agent: structs.AgentInfo{Version: "v1.2.0",
			Features: []structs.AgentFeature{structs.FeatureArrayJobs, structs.FeatureJobEnv}}},
			read: func(r *state.ReadTxn) any { v, _ := r.Cluster("east"); return v },
			want: &structs.Cluster{RaftIndex: structs.RaftIndex{CreateIndex: 1, ModifyIndex: 100}, Name: "east", Zone: "z1",
				Status: structs.ClusterUnknown, Agent: &structs.AgentInfo{Version: "v1.2.0",
					Features: []structs.AgentFeature{structs.FeatureArrayJobs, structs.FeatureJobEnv}}}},
		"cluster agent unknown": {cmd: &ClusterAgent{Cluster: "nope", Agent: structs.AgentInfo{Version: "v1"}}, wantErr: structs.ErrNotFound},
		"cluster agent unsorted": {cmd: &ClusterAgent{Cluster: "east", Agent: structs.AgentInfo{
			Features: []structs.AgentFeature{structs.FeatureJobEnv, structs.FeatureArrayJobs}}}, wantErr: structs.ErrInvalid},
		"vault upsert": {cmd: &VaultUpsert{Vault: structs.Vault{Tenant: "beta", Name: "scratch", Kind: structs.VaultBlock,
			ClaimName: "pvc-scratch", AccessMode: structs.AccessRWO, Zone: "z2"}},
			read: func(r *state.ReadTxn) any { v, _ := r.Vault("beta", "scratch"); return v },
			want: &structs.Vault{RaftIndex: created, Tenant: "beta", Name: "scratch", Kind: structs.VaultBlock,
				ClaimName: "pvc-scratch", AccessMode: structs.AccessRWO, Zone: "z2"}},
		"vault delete": {cmd: &VaultDelete{Tenant: "acme", Name: "data"},
			read: func(r *state.ReadTxn) any { return kind(r.Vault("acme", "data")) }, want: structs.ErrNotFound},
		"app upsert": {cmd: &AppUpsert{App: app},
			read: func(r *state.ReadTxn) any { v, _ := r.App("lammps"); return v },
			want: func() *structs.App {
				// Decoding keeps the AppDef as written (Raw) and the
				// parameters' order as the JSON lists them.
				var a structs.App
				b, _ := json.Marshal(app)
				if err := json.Unmarshal(b, &a); err != nil {
					panic(err)
				}
				a.RaftIndex = created
				return &a
			}()},
		"app delete": {cmd: &AppDelete{Name: "solver"},
			read: func(r *state.ReadTxn) any { return kind(r.App("solver")) }, want: structs.ErrNotFound},
		"limit upsert": {cmd: &LimitUpsert{Limit: limit},
			read: func(r *state.ReadTxn) any { v, _ := r.Limit("bob-n3"); return v },
			want: func() *structs.Limit { l := limit; l.RaftIndex = created; return &l }()},
		"limit delete": {cmd: &LimitDelete{Name: "acme-gpus"},
			read: func(r *state.ReadTxn) any { return kind(r.Limit("acme-gpus")) }, want: structs.ErrNotFound},
		"burst rule upsert": {cmd: &BurstRuleUpsert{Rule: rule},
			read: func(r *state.ReadTxn) any { v, _ := r.BurstRule("g3-to-n3"); return v },
			want: func() *structs.BurstRule { b := rule; b.RaftIndex = created; return &b }()},
		"burst rule delete": {cmd: &BurstRuleDelete{Name: "n3-to-g3"},
			read: func(r *state.ReadTxn) any { return kind(r.BurstRule("n3-to-g3")) }, want: structs.ErrNotFound},
		"access rule upsert": {cmd: &AccessRuleUpsert{Rule: structs.AccessRule{Name: "us-only", Object: structs.AccessObjectApp, Match: "itar-*",
			Groups: []string{"us-persons"}, ClusterLabels: map[string]string{"region": "us"}}},
			read: func(r *state.ReadTxn) any { v, _ := r.AccessRule("us-only"); return v },
			want: &structs.AccessRule{RaftIndex: created, Name: "us-only", Object: structs.AccessObjectApp, Match: "itar-*",
				Groups: []string{"us-persons"}, ClusterLabels: map[string]string{"region": "us"}}},
		"access rule delete": {cmd: &AccessRuleDelete{Name: "nope"}, wantErr: structs.ErrNotFound},
		"job submit": {cmd: &JobSubmit{Job: func() structs.Job { j := testJob("j-4"); j.State = structs.JobHeld; return j }()},
			read: jobRead("j-4"),
			want: func() *structs.Job {
				j := testJob("j-4")
				j.RaftIndex, j.Number, j.Name, j.State, j.Priority = created, 4, "alice-2026-11-28-0004", structs.JobHeld, structs.PriorityNormal
				return &j
			}()},
		"job submit duplicate": {cmd: &JobSubmit{Job: testJob("j-1")}, wantErr: structs.ErrConflict},
		"job submit ext": {cmd: &JobSubmitExt{Job: func() structs.Job { j := testJob("j-4"); extend(&j); return j }()},
			read: jobRead("j-4"),
			want: func() *structs.Job {
				j := testJob("j-4")
				extend(&j)
				j.RaftIndex, j.Number, j.Name, j.Priority = created, 4, "alice-2026-11-28-0004", structs.PriorityNormal
				return &j
			}()},
		"job submit ext duplicate": {cmd: &JobSubmitExt{Job: func() structs.Job { j := testJob("j-1"); extend(&j); return j }()},
			wantErr: structs.ErrConflict},
		"job submit array list": {cmd: &JobSubmitArrayList{Job: func() structs.Job { j := testJob("j-4"); withList(&j); extend(&j); return j }()},
			read: jobRead("j-4"),
			want: func() *structs.Job {
				j := testJob("j-4")
				withList(&j)
				extend(&j)
				j.RaftIndex, j.Number, j.Name, j.Priority = created, 4, "alice-2026-11-28-0004", structs.PriorityNormal
				return &j
			}()},
		"job update state": {cmd: &JobStateUpdate{ID: "j-2", Cluster: "east", State: structs.JobCompleted,
			LogTail: "done\n", Time: t0.Add(time.Hour)}, read: jobRead("j-2"),
			want: withJob(2, func(j *structs.Job) {
				j.State, j.LogTail, j.EndTime = structs.JobCompleted, "done\n", t0.Add(time.Hour)
			})},
		"job update state illegal": {cmd: &JobStateUpdate{ID: "j-1", State: structs.JobRunning, Time: t0},
			wantErr: structs.ErrConflict, read: jobRead("j-1"), want: baseJob(1)},
		"job assign": {cmd: &JobAssignment{ID: "j-1", Cluster: "west", Time: t0.Add(time.Minute)}, read: jobRead("j-1"),
			want: withJob(1, func(j *structs.Job) {
				j.State, j.Cluster, j.AssignTime = structs.JobAssigned, "west", t0.Add(time.Minute)
			})},
		"job update state wrong number": {cmd: &JobStateUpdate{ID: "j-2", Number: 7, Cluster: "east", State: structs.JobCompleted,
			Time: t0.Add(time.Hour)}, wantErr: structs.ErrNotFound, read: jobRead("j-2"), want: baseJob(2)},
		"job update state wrong cluster": {cmd: &JobStateUpdate{ID: "j-2", Number: 2, Cluster: "west", State: structs.JobCompleted,
			Time: t0.Add(time.Hour)}, wantErr: structs.ErrConflict, read: jobRead("j-2"), want: baseJob(2)},
		"job update state guards held": {cmd: &JobStateUpdate{ID: "j-2", Number: 2, Cluster: "east", State: structs.JobCompleted,
			Time: t0.Add(time.Hour)}, read: jobRead("j-2"),
			want: withJob(2, func(j *structs.Job) { j.State, j.EndTime = structs.JobCompleted, t0.Add(time.Hour) })},
		"job update state cas stale": {cmd: &JobStateUpdate{ID: "j-2", State: structs.JobRunning, Substatus: "old pass",
			Time: t0.Add(time.Hour), CAS: structs.CAS{ExpectModifyIndex: 3}},
			wantErr: structs.ErrConflict, read: jobRead("j-2"), want: baseJob(2)},
		"job requeue": {before: []Command{&JobAssignment{ID: "j-1", Cluster: "east", Time: t0.Add(time.Minute)}},
			cmd: &JobStateUpdate{ID: "j-1", State: structs.JobQueued, Substatus: "not accepted", Time: t0.Add(time.Hour),
				CAS: structs.CAS{ExpectModifyIndex: 99}},
			read: jobRead("j-1"),
			want: withJob(1, func(j *structs.Job) {
				j.State, j.Substatus, j.PreviousCluster = structs.JobQueued, "not accepted", "east"
				j.CreateIndex = 3
			})},
		"job requeue stale": {before: []Command{&JobAssignment{ID: "j-1", Cluster: "east", Time: t0.Add(time.Minute)}},
			cmd: &JobStateUpdate{ID: "j-1", State: structs.JobQueued, Substatus: "waiting", Time: t0.Add(time.Hour),
				CAS: structs.CAS{ExpectModifyIndex: 3}},
			wantErr: structs.ErrConflict, read: jobRead("j-1"),
			want: func() *structs.Job {
				j := baseJob(1)
				j.State, j.Cluster, j.AssignTime, j.ModifyIndex = structs.JobAssigned, "east", t0.Add(time.Minute), 99
				return j
			}()},
		"job assign cas held": {cmd: &JobAssignment{ID: "j-1", Cluster: "west", Time: t0.Add(time.Minute), CAS: structs.CAS{ExpectModifyIndex: 3}},
			read: jobRead("j-1"),
			want: withJob(1, func(j *structs.Job) {
				j.State, j.Cluster, j.AssignTime = structs.JobAssigned, "west", t0.Add(time.Minute)
			})},
		"job assign cas stale": {cmd: &JobAssignment{ID: "j-1", Cluster: "west", Time: t0.Add(time.Minute), CAS: structs.CAS{ExpectModifyIndex: 2}},
			wantErr: structs.ErrConflict, read: jobRead("j-1"), want: baseJob(1)},
		"job cancel": {cmd: &JobCancel{ID: "j-2", Reason: "walltime", Time: t0.Add(time.Hour)}, read: jobRead("j-2"),
			want: withJob(2, func(j *structs.Job) {
				j.State, j.Substatus, j.EndTime = structs.JobTerminated, "walltime", t0.Add(time.Hour)
			})},
		"job cancel tasks of a job that is not an array": {cmd: &JobCancelTasks{ID: "j-2", Tasks: "1", Time: t0.Add(time.Hour)},
			wantErr: structs.ErrInvalid, read: jobRead("j-2"), want: baseJob(2)},
		"job output request of a job that is not an array": {cmd: &JobOutputRequest{ID: "j-2", Index: 1, Time: t0.Add(time.Hour)},
			wantErr: structs.ErrInvalid, read: jobRead("j-2"), want: baseJob(2)},
		"job signal of a job that is not running": {cmd: &JobSignal{ID: "j-1", Signal: 10, Scope: structs.SignalAll, Time: t0.Add(time.Hour)},
			wantErr: structs.ErrConflict, read: jobRead("j-1"), want: baseJob(1)},
		"job signal": {before: []Command{&JobSignal{ID: "j-2", Signal: 12, Scope: structs.SignalAll, Time: t0.Add(time.Minute)}},
			cmd:  &JobSignal{ID: "j-2", Signal: 10, Scope: structs.SignalBatch, By: "alice", Time: t0.Add(time.Hour)},
			read: jobRead("j-2"),
			want: withJob(2, func(j *structs.Job) {
				j.Signals = []structs.JobSignal{{Seq: 1, Signal: 12, Scope: structs.SignalAll, Time: t0.Add(time.Minute)},
					{Seq: 2, Signal: 10, Scope: structs.SignalBatch, By: "alice", Time: t0.Add(time.Hour)}}
			})},
		"job share of a job that is not running": {cmd: &JobShares{ID: "j-1", Create: &structs.JobShare{Name: "bob", TokenHash: structs.HashShareToken("t"),
			Created: t0}, Time: t0.Add(time.Hour)},
			wantErr: structs.ErrConflict, read: jobRead("j-1"), want: baseJob(1)},
		"job share revoke of an unknown link": {cmd: &JobShares{ID: "j-2", Revoke: "bob", Time: t0.Add(time.Hour)},
			wantErr: structs.ErrNotFound, read: jobRead("j-2"), want: baseJob(2)},
		"job share created and one revoked": {before: []Command{
			&JobShares{ID: "j-2", Create: &structs.JobShare{Name: "bob", TokenHash: structs.HashShareToken("t1"), Created: t0}, Time: t0.Add(time.Minute)},
			&JobShares{ID: "j-2", Create: &structs.JobShare{Name: "carol", TokenHash: structs.HashShareToken("t2"), Created: t0}, Time: t0.Add(time.Minute)}},
			cmd:  &JobShares{ID: "j-2", Revoke: "bob", Time: t0.Add(time.Hour)},
			read: jobRead("j-2"),
			want: withJob(2, func(j *structs.Job) {
				j.Shares = []structs.JobShare{{Name: "carol", TokenHash: structs.HashShareToken("t2"), Created: t0}}
			})},
		"job purge": {cmd: &JobPurge{IDs: []string{"j-3"}},
			read: func(r *state.ReadTxn) any { return kind(r.Job("j-3")) }, want: structs.ErrNotFound},
		"job purge active": {cmd: &JobPurge{IDs: []string{"j-3", "j-2"}}, wantErr: structs.ErrConflict,
			read: jobRead("j-3"), want: baseJob(3)},
		"job purge ended": {cmd: &JobPurge{EndedBefore: t0.Add(2 * time.Minute), Limit: 10},
			read: func(r *state.ReadTxn) any {
				_, err := r.Job("j-3")
				rec, _ := r.Accounting("job-3")
				return []any{structs.KindOf(err), rec, must(r.Job("j-2")).State}
			},
			want: []any{structs.ErrNotFound, &structs.AccountingRecord{RaftIndex: created, ID: "job-3", Seq: 1, JobID: "j-3",
				JobNumber: 3, JobName: structs.JobName("alice", t0, 3), Tenant: "acme", Team: "cfd", User: "alice", App: "solver",
				MachineType: "n3", Nodes: 2, Cores: 32, State: structs.JobCanceled, End: t0.Add(time.Minute)},
				structs.JobRunning}},
		"job purge ended none": {cmd: &JobPurge{EndedBefore: t0.Add(time.Minute), Limit: 10},
			read: jobRead("j-3"), want: baseJob(3)},
		"job purge ids and cutoff": {cmd: &JobPurge{IDs: []string{"j-3"}, EndedBefore: t0.Add(time.Hour), Limit: 1},
			wantErr: structs.ErrInvalid},
		"job purge no limit": {cmd: &JobPurge{EndedBefore: t0.Add(time.Hour)}, wantErr: structs.ErrInvalid},
		"claim rule upsert": {cmd: &ClaimRuleUpsert{Rule: structs.ClaimRule{Name: "staff", Email: "*@acme.example", Tenant: "acme", Teams: []string{"cfd"}}},
			read: func(r *state.ReadTxn) any { v, _ := r.ClaimRule("staff"); return v },
			want: &structs.ClaimRule{RaftIndex: created, Name: "staff", Email: "*@acme.example", Tenant: "acme", Teams: []string{"cfd"}}},
		"claim rule upsert invalid": {cmd: &ClaimRuleUpsert{Rule: structs.ClaimRule{Name: "staff", Email: "[", Tenant: "acme"}},
			wantErr: structs.ErrInvalid},
		"claim rule delete unknown": {cmd: &ClaimRuleDelete{Name: "nobody"}, wantErr: structs.ErrNotFound},
		"audit purge": {cmd: &AuditPurge{Before: t0.Add(time.Hour), Limit: 10},
			read: func(r *state.ReadTxn) any { return r.AuditBefore(t0.Add(time.Hour)) }, want: false},
		"audit purge no limit": {cmd: &AuditPurge{Before: t0.Add(time.Hour)}, wantErr: structs.ErrInvalid},
		"accounting append": {cmd: &AccountingAppend{Record: acct},
			read: func(r *state.ReadTxn) any { v, _ := r.Accounting("acct-j-3"); return v },
			want: func() *structs.AccountingRecord { a := acct; a.RaftIndex, a.Seq = created, 1; return &a }()},
		"audit append": {cmd: &AuditAppend{Event: audit},
			read: func(r *state.ReadTxn) any { v, _ := r.AuditEvent("ev-1"); return v },
			want: func() *structs.AuditEvent { e := audit; e.RaftIndex, e.Seq = created, 1; return &e }()},
		"replica upsert": {cmd: &ReplicaUpsert{Replica: structs.Replica{ID: "hub1", RaftAddress: "10.0.0.2:7000", APIAddress: "https://hub1.example:8443"}},
			read: func(r *state.ReadTxn) any { v, _ := r.Replica("hub1"); return v },
			want: &structs.Replica{RaftIndex: created, ID: "hub1", RaftAddress: "10.0.0.2:7000", APIAddress: "https://hub1.example:8443"}},
		"replica move": {cmd: &ReplicaUpsert{Replica: structs.Replica{ID: "hub0", RaftAddress: "10.0.0.9:7000", APIAddress: "http://10.0.0.9:8080"}},
			read: func(r *state.ReadTxn) any { v, _ := r.Replica("hub0"); return v },
			want: &structs.Replica{RaftIndex: structs.RaftIndex{CreateIndex: 1, ModifyIndex: 100}, ID: "hub0",
				RaftAddress: "10.0.0.9:7000", APIAddress: "http://10.0.0.9:8080"}},
		"replica upsert address taken": {cmd: &ReplicaUpsert{Replica: structs.Replica{ID: "hub1", RaftAddress: "10.0.0.1:7000", APIAddress: "http://10.0.0.2:8080"}},
			wantErr: structs.ErrConflict, read: func(r *state.ReadTxn) any { return kind(r.Replica("hub1")) }, want: structs.ErrNotFound},
		"replica upsert invalid": {cmd: &ReplicaUpsert{Replica: structs.Replica{ID: "hub1", RaftAddress: "10.0.0.2:7000", APIAddress: "http://h:8080/?x"}},
			wantErr: structs.ErrInvalid},
		"replica delete": {cmd: &ReplicaDelete{ID: "hub0"},
			read: func(r *state.ReadTxn) any { return kind(r.Replica("hub0")) }, want: structs.ErrNotFound},
		"replica delete unknown": {cmd: &ReplicaDelete{ID: "hub9"}, wantErr: structs.ErrNotFound},
		"cloud deployment upsert": {cmd: &CloudDeploymentUpsert{Deployment: structs.CloudDeployment{Name: "aws-1", Provider: structs.CloudEKS,
			Region: "us-east-1", Resources: []structs.CloudResource{{Step: "cluster", Kind: "cluster", ID: "aws-1"}}}},
			read: func(r *state.ReadTxn) any { v, _ := r.CloudDeployment("aws-1"); return v },
			want: &structs.CloudDeployment{RaftIndex: created, Name: "aws-1", Provider: structs.CloudEKS, Region: "us-east-1",
				Resources: []structs.CloudResource{{Step: "cluster", Kind: "cluster", ID: "aws-1"}}}},
		"cloud deployment bad provider": {cmd: &CloudDeploymentUpsert{Deployment: structs.CloudDeployment{Name: "x", Provider: "aks", Region: "r"}},
			wantErr: structs.ErrInvalid},
		"cloud deployment delete unknown": {cmd: &CloudDeploymentDelete{Name: "nope"}, wantErr: structs.ErrNotFound},

		"bad version":  {raw: []byte{9, byte(TypeOf(&TenantUpsert{})), '{', '}'}, wantErr: structs.ErrInvalid},
		"unknown type": {raw: []byte{Version, 200, '{', '}'}, wantErr: structs.ErrInvalid},
		"bad json":     {raw: []byte{Version, byte(TypeOf(&JobSubmit{})), '{'}, wantErr: structs.ErrInvalid},
		"empty":        {raw: nil, wantErr: structs.ErrInvalid},
	}
}

// binaryStateUpdateCases repeats every JobStateUpdate case with the same
// update in its binary form (JobStateUpdateBin), which must apply alike.
func binaryStateUpdateCases(cases map[string]applyCase) map[string]applyCase {
	out := map[string]applyCase{}
	for name, tc := range cases {
		if u, ok := tc.cmd.(*JobStateUpdate); ok {
			tc.cmd = (*JobStateUpdateBin)(u)
			out[name+", binary form"] = tc
		}
	}
	return out
}

// TestApplyRoundTrip applies each command type to the base state, checks
// its result and effect, then snapshots, restores into a fresh FSM and
// checks the restored state reads the same and snapshots to the same bytes.
func TestApplyRoundTrip(t *testing.T) {
	cases := applyCases()
	for name, tc := range serviceApplyCases() {
		cases[name] = tc
	}
	for name, tc := range auditedApplyCases() {
		cases[name] = tc
	}
	for name, tc := range binaryStateUpdateCases(cases) {
		cases[name] = tc
	}
	seen := map[CommandType]bool{}
	for name, tc := range cases {
		if tc.cmd != nil {
			seen[TypeOf(tc.cmd)] = true
		}
		t.Run(name, func(t *testing.T) {
			f := newFSM(t)
			applyAll(t, f, baseLog(t))
			if tc.before != nil {
				applyAll(t, f, []entry{{99, enc(t, tc.before...)}})
			}
			raw := tc.raw
			if tc.cmd != nil {
				raw = MustEncode(tc.cmd)
			}
			res := f.ApplyCommands(100, [][]byte{raw})
			if len(res) != 1 {
				t.Fatalf("%d results", len(res))
			}
			err, isErr := res[0].(error)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("result %v, want error %v", res[0], tc.wantErr)
				}
			} else if isErr {
				t.Fatalf("result error: %v", err)
			}
			opts := []cmp.Option{cmpopts.EquateErrors()}
			if tc.read != nil {
				got := tc.read(f.Store().Read())
				if diff := cmp.Diff(tc.want, got, opts...); diff != "" {
					t.Errorf("after apply (-want +got):\n%s", diff)
				}
				if j, ok := res[0].(*structs.Job); ok {
					if diff := cmp.Diff(got, j); diff != "" {
						t.Errorf("result differs from stored job:\n%s", diff)
					}
				}
			}
			snap := snapshotBytes(t, f)
			c := restored(t, snap)
			if again := snapshotBytes(t, c); !bytes.Equal(snap, again) {
				t.Fatalf("snapshot after restore differs:\n%s", cmp.Diff(string(snap), string(again)))
			}
			if tc.read != nil {
				if diff := cmp.Diff(tc.read(f.Store().Read()), tc.read(c.Store().Read()), opts...); diff != "" {
					t.Errorf("restored state differs (-applied +restored):\n%s", diff)
				}
			}
		})
	}
	for _, ct := range Types() {
		if !seen[ct] {
			t.Errorf("no case for command type %s", ct)
		}
	}
}

func TestApplyRaftLog(t *testing.T) {
	f := newFSM(t)
	applyAll(t, f, baseLog(t))
	res := f.Apply(&raft.Log{Index: 9, Type: raft.LogCommand,
		Data: MustEncode(&JobSubmit{Job: testJob("j-9")})})
	j, ok := res.(*structs.Job)
	if !ok || j.Number != 4 || j.CreateIndex != 9 {
		t.Fatalf("Apply result: %#v", res)
	}
	if got := f.Apply(&raft.Log{Index: 10, Data: []byte("junk")}); !errors.Is(got.(error), structs.ErrInvalid) {
		t.Errorf("junk: %v", got)
	}
	if f.Store().LatestIndex() != 9 {
		t.Errorf("latest index %d", f.Store().LatestIndex())
	}
}

// TestApplyCommandsBatch checks one entry's commands apply in order, a
// failing command in the middle leaving the others in effect.
func TestApplyCommandsBatch(t *testing.T) {
	f := newFSM(t)
	applyAll(t, f, baseLog(t))
	res := f.ApplyCommands(10, enc(t,
		&JobSubmit{Job: testJob("a")},
		&JobAssignment{ID: "a", Cluster: "nope", Time: t0},
		&JobAssignment{ID: "a", Cluster: "east", Time: t0},
		&JobStateUpdate{ID: "a", Cluster: "east", State: structs.JobStarting, Time: t0},
	))
	if _, ok := res[1].(error); !ok {
		t.Errorf("assign to unknown cluster: %v", res[1])
	}
	j, ok := res[3].(*structs.Job)
	if !ok || j.State != structs.JobStarting || j.Number != 4 {
		t.Fatalf("last result: %#v", res[3])
	}
	if got := f.ApplyCommands(11, nil); len(got) != 0 {
		t.Errorf("empty entry: %v", got)
	}
}

func TestSnapshotSinkCanceledOnError(t *testing.T) {
	f := newFSM(t)
	applyAll(t, f, baseLog(t))
	snap, _ := f.Snapshot()
	sink := &failingSink{}
	if err := snap.Persist(sink); err == nil || !sink.canceled || sink.closed {
		t.Errorf("persist err=%v canceled=%v closed=%v", err, sink.canceled, sink.closed)
	}
}

type failingSink struct{ memSink }

func (s *failingSink) Write([]byte) (int, error) { return 0, errors.New("disk full") }
