package fsm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/raft"
)

// logGen builds a pseudo-random but reproducible raft log that exercises
// every command type, legal and illegal.
type logGen struct {
	r     *rand.Rand
	index uint64
	seq   int
	jobs  []string
	rr    *rand.Rand // see replicaCommand
	mr    *rand.Rand // see membershipCommands
	or    *rand.Rand // see opsCommand
	sr    *rand.Rand // see serviceCommand
	// upserted is the index of the latest upsert of each object ("user/bob"),
	// whether or not it applied: what a read-modify-write writer would
	// have read, so that a precondition built from it sometimes holds.
	upserted map[string]uint64
}

func (g *logGen) pick(names ...string) string { return names[g.r.IntN(len(names))] }

func (g *logGen) now() time.Time { return t0.Add(time.Duration(g.index) * time.Second) }

func (g *logGen) id(prefix string) string {
	g.seq++
	return fmt.Sprintf("%s-%04d", prefix, g.seq)
}

// delCAS returns the precondition of a delete of object key: mostly none,
// else the index of its latest upsert (which may have been refused or
// deleted since) or a random, mostly stale one.
func (g *logGen) delCAS(key string) structs.CAS {
	last, seen := g.upserted[key]
	switch g.r.IntN(5) {
	case 0:
		if seen {
			return structs.CAS{ExpectModifyIndex: last}
		}
	case 1:
		return structs.CAS{ExpectModifyIndex: 1 + uint64(g.r.IntN(int(g.index)))}
	}
	return structs.CAS{}
}

// cas returns the precondition of an upsert of object key: mostly none,
// else the index of its latest upsert (or "absent" if none was made), now
// and then a stale or absurd one, so that the log has preconditions that
// hold and ones the state machine refuses.
func (g *logGen) cas(key string) structs.CAS {
	last, seen := g.upserted[key]
	g.upserted[key] = g.index
	switch g.r.IntN(6) {
	case 0, 1:
		if !seen {
			return structs.CAS{ExpectAbsent: true}
		}
		return structs.CAS{ExpectModifyIndex: last}
	case 2:
		if g.r.IntN(4) == 0 {
			return structs.CAS{ExpectAbsent: true, ExpectModifyIndex: last + 1} // invalid
		}
		return structs.CAS{ExpectModifyIndex: 1 + uint64(g.r.IntN(int(g.index)))}
	}
	return structs.CAS{}
}

// jobCAS returns the precondition of a dispatch decision about job id:
// mostly none, else the index of the latest command that named the job
// (which holds if that one applied and nothing changed the job since).
func (g *logGen) jobCAS(id string) structs.CAS {
	key := "job/" + id
	last, seen := g.upserted[key]
	g.upserted[key] = g.index
	if seen && g.r.IntN(3) == 0 {
		return structs.CAS{ExpectModifyIndex: last}
	}
	return structs.CAS{}
}

func (g *logGen) job() string {
	if len(g.jobs) == 0 || g.r.IntN(20) == 0 {
		return "no-such-job"
	}
	return g.jobs[g.r.IntN(len(g.jobs))]
}

func (g *logGen) state() structs.JobState {
	states := []structs.JobState{structs.JobSubmitted, structs.JobHeld, structs.JobQueued, structs.JobAssigned,
		structs.JobStarting, structs.JobRunning, structs.JobCompleted, structs.JobCompletedWithError,
		structs.JobCanceled, structs.JobTerminated}
	return states[g.r.IntN(len(states))]
}

// command returns one random command.
func (g *logGen) command() Command {
	tenant := g.pick("acme", "beta", "gamma")
	cluster := g.pick("east", "west", "gke", "idle")
	mt := g.pick("n3", "g3", "n3b", "spare")
	now := g.now()
	switch g.r.IntN(28) {
	case 0:
		// "spare" is a tenant nothing else names, so deleting it can succeed.
		tenant = g.pick(tenant, "spare")
		t := structs.Tenant{Name: tenant, Isolated: g.r.IntN(2) == 0}
		if g.r.IntN(3) == 0 { // ranges that fit, overlap, or leave users out
			lo := 1000 * (1 + g.r.IntN(4))
			t.IDRange = structs.IDRange{Min: lo, Max: lo + 500 + g.r.IntN(1000)}
		}
		return &TenantUpsert{Tenant: t, CAS: g.cas("tenant/" + tenant)}
	case 1:
		n := g.pick(tenant, "spare")
		return &TenantDelete{Name: n, CAS: g.delCAS("tenant/" + n)}
	case 2:
		team := g.pick("cfd", "ml")
		if g.r.IntN(2) == 0 { // setting members, with their indexes as a writer read them (some stale)
			members := []string{g.pick("alice", "bob"), g.pick("carol", "bob")}
			cas := map[string]uint64{}
			for _, u := range []string{"alice", "bob", "carol"} {
				cas[u] = g.upserted["user/"+u]
			}
			return &TeamUpsert{Team: structs.Team{Tenant: tenant, Name: team, Members: members}, SetMembers: true,
				MemberCAS: cas, CAS: g.cas("team/" + tenant + "/" + team)}
		}
		return &TeamUpsert{Team: structs.Team{Tenant: tenant, Name: team, Members: []string{"alice", g.id("u")}},
			CAS: g.cas("team/" + tenant + "/" + team)}
	case 3:
		team := g.pick("cfd", "ml")
		return &TeamDelete{Tenant: tenant, Name: team, CAS: g.delCAS("team/" + tenant + "/" + team), DropMembers: g.r.IntN(2) == 0}
	case 4:
		name := g.pick("alice", "bob", "carol")
		u := structs.User{Username: name, Tenant: tenant, Role: structs.RoleUser,
			Groups: []string{g.pick("gpu", "cpu")}, Teams: []string{g.pick("cfd", "ml")},
			APIKeys: []structs.APIKeyHash{structs.HashAPIKey("k-"+name, g.id("secret"))}}
		if g.r.IntN(2) == 0 { // ids in, out of or between the ranges, some taken
			id := 1000 + 250*g.r.IntN(16)
			u.Identity = structs.Identity{UID: id, GID: id}
		}
		return &UserUpsert{User: u, CAS: g.cas("user/" + name)}
	case 5:
		name := g.pick("bob", "carol")
		return &UserDelete{Username: name, CAS: g.delCAS("user/" + name)}
	case 6:
		return &MachineTypeUpsert{MachineType: structs.MachineType{Name: mt, Cores: 1 + g.r.IntN(64), RAM: 8,
			Cluster: cluster, Price: float64(g.r.IntN(100)) / 4}, CAS: g.cas("machine type/" + mt)}
	case 7:
		return &MachineTypeDelete{Name: mt, CAS: g.delCAS("machine type/" + mt)}
	case 8:
		return &ClusterUpsert{Cluster: structs.Cluster{Name: cluster, Zone: g.pick("z1", "z2"),
			Labels: map[string]string{"rev": g.id("r"), "cloud": "x"}}, CAS: g.cas("cluster/" + cluster)}
	case 9:
		return &ClusterDelete{Name: cluster, CAS: g.delCAS("cluster/" + cluster)}
	case 10:
		return &VaultUpsert{Vault: structs.Vault{Tenant: tenant, Name: "data", Kind: structs.VaultFile, AccessMode: structs.AccessRWX},
			CAS: g.cas("vault/" + tenant)}
	case 11:
		return &VaultDelete{Tenant: tenant, Name: "data", CAS: g.delCAS("vault/" + tenant)}
	case 12:
		app := g.pick("solver", "viz")
		return &AppUpsert{CAS: g.cas("app/" + app), App: structs.App{Name: app, Visibility: structs.VisibilityPublic,
			AppDef: structs.AppDef{Name: "x", Commands: map[string]structs.Command{"run": {Path: "/r",
				Parameters: map[string]structs.Parameter{"n": {Name: "N", Type: structs.ParamInt, Value: []byte(`4`)}}}}}}}
	case 13:
		app := g.pick("solver", "viz")
		return &AppDelete{Name: app, CAS: g.delCAS("app/" + app)}
	case 14:
		return &LimitUpsert{Limit: structs.Limit{Name: "l-" + tenant, Scope: structs.ScopeTenant, Tenant: tenant,
			Kind: structs.LimitMaxNodes, MachineType: mt, Value: int64(g.r.IntN(10))}, CAS: g.cas("limit/" + tenant)}
	case 15:
		return &LimitDelete{Name: "l-" + tenant, CAS: g.delCAS("limit/" + tenant)}
	case 16:
		return &BurstRuleUpsert{Rule: structs.BurstRule{Name: "b-" + mt, From: mt, To: []string{g.pick("n3", "g3", "n3b")},
			After: structs.Duration(time.Duration(g.r.IntN(30)) * time.Minute)}, CAS: g.cas("burst rule/" + mt)}
	case 17:
		return &BurstRuleDelete{Name: "b-" + mt, CAS: g.delCAS("burst rule/" + mt)}
	case 18, 19:
		id := g.id("job")
		if g.r.IntN(10) > 0 { // some IDs never make it in
			g.jobs = append(g.jobs, id)
		}
		j := testJob(id)
		j.Tenant, j.MachineType = g.pick("acme", "acme", tenant), g.pick("n3", mt)
		j.SubmitTime = now
		j.State = []structs.JobState{"", structs.JobHeld, structs.JobQueued}[g.r.IntN(3)]
		return &JobSubmit{Job: j}
	case 20:
		id := g.job()
		u := &JobStateUpdate{ID: id, State: g.state(), ExitCode: g.r.IntN(3), LogTail: g.id("log"), Time: now, CAS: g.jobCAS(id)}
		switch g.r.IntN(4) { // an agent's guards, right or stale
		case 0:
			u.Cluster, u.Number = cluster, uint64(1+g.r.IntN(max(len(g.jobs), 1)))
		case 1:
			u.Cluster = cluster
		}
		return u
	case 21:
		id := g.job()
		return &JobAssignment{ID: id, Cluster: cluster, Time: now, CAS: g.jobCAS(id)}
	case 22:
		g.jobCAS(g.job())
		return &JobCancel{ID: g.job(), Reason: "user", Time: now}
	case 23:
		if g.r.IntN(2) == 0 {
			return &JobPurge{EndedBefore: now.Add(-time.Duration(g.r.IntN(300)) * time.Second), Limit: 1 + g.r.IntN(3)}
		}
		return &JobPurge{IDs: []string{g.job(), g.job()}}
	case 26:
		name := "ar-" + g.pick("a", "b")
		return &AccessRuleUpsert{CAS: g.cas("access rule/" + name), Rule: structs.AccessRule{Name: name, Object: structs.AccessObjectApp,
			Match: g.pick("solver", "v*"), Groups: []string{g.pick("us-persons", "staff")},
			ClusterLabels: map[string]string{"region": g.pick("us", "eu")}}}
	case 27:
		return &AccessRuleDelete{Name: "ar-" + g.pick("a", "b")}
	case 24:
		return &ClusterHeartbeat{Cluster: cluster, Status: structs.ClusterReady,
			Capacity: map[string]structs.Capacity{mt: {Free: g.r.IntN(4), Total: 4}}, Time: now}
	default:
		if g.r.IntN(2) == 0 {
			return &AuditAppend{Event: structs.AuditEvent{ID: g.id("ev"), Time: now, Actor: "alice", Tenant: tenant, Action: "x"}}
		}
		id := g.id("acct")
		if g.r.IntN(8) == 0 {
			id = "acct-dup"
		}
		return &AccountingAppend{Record: structs.AccountingRecord{ID: id, JobID: g.job(), Tenant: tenant,
			Start: now, End: now.Add(time.Minute), Cost: float64(g.r.IntN(1000)) / 8}}
	}
}

// cloudCommand returns a command on the cloud deployment records, a
// function of the index alone: upserts and deletes of two records.
func cloudCommand(index uint64) Command {
	name := []string{"aws-1", "gcp-1"}[index/11%2]
	if index/22%3 == 2 {
		return &CloudDeploymentDelete{Name: name}
	}
	return &CloudDeploymentUpsert{Deployment: structs.CloudDeployment{Name: name, Provider: structs.CloudEKS, Region: "us-east-1",
		Resources: []structs.CloudResource{{Step: "cluster", Kind: "cluster", ID: name}}}}
}

// replicaCommand returns a random command on the replica directory. It
// draws from a generator of its own, so that adding these commands to the
// log left the rest of the log as it was.
func (g *logGen) replicaCommand() Command {
	if g.rr == nil {
		g.rr = rand.New(rand.NewPCG(29, 30))
	}
	pick := func(names ...string) string { return names[g.rr.IntN(len(names))] }
	id := pick("hub0", "hub1", "hub2")
	if g.rr.IntN(3) == 0 {
		return &ReplicaDelete{ID: id}
	}
	// Mostly a replica at its own addresses; sometimes at another's
	// (refused) or at an address that is no address (invalid).
	host := "h" + id[3:]
	if g.rr.IntN(3) == 0 {
		host = pick("h0", "h1", "h2")
	}
	rep := structs.Replica{ID: id, RaftAddress: host + ":7000", APIAddress: "http://" + host + ":8080"}
	if g.rr.IntN(10) == 0 {
		rep.RaftAddress = host
	}
	return &ReplicaUpsert{Replica: rep}
}

// membershipCommands returns commands that set a team's members as the
// API writes them: the users read fresh (here: written in the same entry,
// so at its index) and the team's members set with their indexes. It
// draws from a generator of its own, like replicaCommand.
func (g *logGen) membershipCommands(t testing.TB) [][]byte {
	if g.mr == nil {
		g.mr = rand.New(rand.NewPCG(31, 32))
	}
	users := []string{"alice", "bob", "carol"}
	var cmds []Command
	for _, u := range users {
		cmds = append(cmds, &UserUpsert{User: structs.User{Username: u, Tenant: "acme", Role: structs.RoleUser}})
	}
	member := users[g.mr.IntN(len(users))]
	cmds = append(cmds, &TeamUpsert{Team: structs.Team{Tenant: "acme", Name: "cfd", Members: []string{member}},
		SetMembers: true, MemberCAS: map[string]uint64{member: g.index}})
	return enc(t, cmds...)
}

// opsCommand returns a command of operations (issue 16): an agent's report
// or a cancel that accounts the job it ends, a purge writing complete
// records, an audit purge, a claim rule. It draws from a generator of its
// own, like replicaCommand.
func (g *logGen) opsCommand() Command {
	if g.or == nil {
		g.or = rand.New(rand.NewPCG(33, 34))
	}
	job := func() string {
		if len(g.jobs) == 0 {
			return "job-none"
		}
		return g.jobs[g.or.IntN(len(g.jobs))]
	}
	now := t0.Add(time.Duration(g.index) * time.Second)
	switch g.or.IntN(7) {
	case 0:
		return &JobStateUpdate{ID: job(), State: []structs.JobState{structs.JobRunning, structs.JobCompleted,
			structs.JobCompletedWithError, structs.JobTerminated}[g.or.IntN(4)], ExitCode: g.or.IntN(2), Time: now, Account: true}
	case 1:
		return &JobCancel{ID: job(), Reason: "ops", Time: now, Account: true}
	case 2:
		return &JobPurge{EndedBefore: now.Add(-time.Duration(g.or.IntN(200)) * time.Second), Limit: 1 + g.or.IntN(3), Account: true}
	case 3:
		return &ClaimRuleUpsert{Rule: structs.ClaimRule{Name: []string{"staff", "guests"}[g.or.IntN(2)], Priority: g.or.IntN(3),
			Email: "*@example.org", Tenant: []string{"acme", "beta", ""}[g.or.IntN(3)], Teams: []string{"cfd"}}}
	case 4:
		return &ClaimRuleDelete{Name: []string{"staff", "guests"}[g.or.IntN(2)]}
	default:
		return &AuditPurge{Before: now.Add(-time.Duration(g.or.IntN(300)) * time.Second), Limit: 1 + g.or.IntN(4)}
	}
}

// arrayCommands submits an array job and cancels tasks of an earlier
// one (issue 21), drawing nothing from g.r.
func (g *logGen) arrayCommands(t testing.TB) [][]byte {
	now := t0.Add(time.Duration(g.index) * time.Second)
	id := fmt.Sprintf("arr-%d", g.index)
	j := testJob(id)
	j.SubmitTime = now
	j.Array = &structs.ArrayJob{Spec: structs.ArraySpec{Start: 1, End: 20}}
	cmds := [][]byte{MustEncode(&JobSubmit{Job: j})}
	if g.index >= 26 {
		prev := fmt.Sprintf("arr-%d", g.index-13)
		tasks := fmt.Sprintf("%d,%d-%d", g.index%20+1, g.index%7+1, g.index%7+3)
		cmds = append(cmds, MustEncode(&JobCancelTasks{ID: prev, Tasks: tasks, Time: now}))
	}
	if g.index >= 26 && g.index%26 == 0 { // it runs, a task's output is asked for and answered
		prev, task := fmt.Sprintf("arr-%d", g.index-13), int(g.index%20)+1
		cmds = append(cmds, MustEncode(&JobAssignment{ID: prev, Cluster: "east", Time: now}),
			MustEncode(&JobStateUpdate{ID: prev, Cluster: "east", State: structs.JobRunning, Time: now}),
			MustEncode(&JobOutputRequest{ID: prev, Index: task, Time: now}),
			MustEncode(&JobSignal{ID: prev, Signal: 10, Scope: structs.SignalAll, By: "alice", Time: now}),
			MustEncode(&JobShares{ID: prev, Create: &structs.JobShare{Name: "colleague", TokenHash: structs.HashShareToken(prev),
				By: "alice", Created: now}, Time: now}),
			MustEncode(&JobShares{ID: prev, Create: &structs.JobShare{Name: "gone", TokenHash: structs.HashShareToken("x" + prev),
				Created: now}, Time: now}),
			MustEncode(&JobShares{ID: prev, Revoke: "gone", Time: now}),
			MustEncode(&JobStateUpdateBin{ID: prev, Cluster: "east", State: structs.JobRunning, Time: now,
				Outputs: []structs.TaskOutput{{Index: task, State: structs.TaskSucceeded, Attempts: 1, Tail: "out\n", Seq: 1}}}))
	}
	if g.index%13 == 0 && g.index > 360 { // a job waiting for the array job (JobSubmitExt), late: job numbers before stay
		d := testJob(fmt.Sprintf("dep-%d", g.index))
		d.SubmitTime = now
		extend(&d)
		cmds = append(cmds, MustEncode(&JobSubmitExt{Job: d}))
	}
	if g.index%17 == 0 { // the agent of east reports its features (ClusterAgent)
		features := []structs.AgentFeature{structs.FeatureArrayJobs, structs.FeatureJobEnv}
		cmds = append(cmds, MustEncode(&ClusterAgent{Cluster: "east", Agent: structs.AgentInfo{
			Version: fmt.Sprintf("v0.%d.0", g.index%3), Features: features[:g.index%3%2+1]}}))
	}
	if g.index%17 == 0 && g.index > 360 { // an index list (JobSubmitArrayList), late; a task of it canceled, one outside refused
		l := testJob(fmt.Sprintf("list-%d", g.index))
		l.SubmitTime = now
		withList(&l)
		cmds = append(cmds, MustEncode(&JobSubmitArrayList{Job: l}),
			MustEncode(&JobCancelTasks{ID: l.ID, Tasks: "3,8", Time: now}),
			MustEncode(&JobCancelTasks{ID: l.ID, Tasks: "2", Time: now}))
	}
	if g.index%39 == 0 { // an index outside the array: refused
		cmds = append(cmds, MustEncode(&JobCancelTasks{ID: id, Tasks: "21", Time: now}))
	}
	return cmds
}

// auditedCommand returns a job command with its call's audit event
// (JobAudited): a new job or a cancel of a known one, the event's ID
// repeating now and then (an attempt applied before). It draws nothing.
func (g *logGen) auditedCommand() Command {
	now := t0.Add(time.Duration(g.index) * time.Second)
	ev := structs.AuditEvent{ID: fmt.Sprintf("aud-%d", g.index/30), Time: now, Actor: "alice", Tenant: "acme",
		Action: "job.submit", ObjectKind: "job", Outcome: "ok", Status: 200}
	if len(g.jobs) == 0 || g.index%2 == 0 {
		j := testJob(fmt.Sprintf("job-aud-%d", g.index))
		j.SubmitTime = now
		return &JobAudited{Job: &JobSubmit{Job: j}, Event: ev}
	}
	ev.Action = "job.cancel"
	return &JobAudited{Job: &JobCancel{ID: g.jobs[int(g.index)%len(g.jobs)], Reason: "user", Time: now}, Event: ev}
}

// buildLog returns the base log followed by n random entries of 1..4
// commands, some of them malformed.
func buildLog(t testing.TB, seed uint64, n int) []entry {
	g := &logGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), upserted: map[string]uint64{}}
	log := baseLog(t)
	log = append(log, entry{5, enc(t,
		&ClusterUpsert{Cluster: structs.Cluster{Name: "gke"}},
		&MachineTypeUpsert{MachineType: structs.MachineType{Name: "n3b", Cores: 16, Cluster: "gke"}})})
	g.index = 10
	for range n {
		g.index += uint64(1 + g.r.IntN(3))
		cmds := make([][]byte, 1+g.r.IntN(4))
		for i := range cmds {
			switch g.r.IntN(40) {
			case 0:
				cmds[i] = []byte{Version + 1, byte(TypeOf(&JobSubmit{})), '{', '}'}
			case 1:
				cmds[i] = []byte{Version, 0xEE}
			default:
				cmds[i] = MustEncode(g.command())
			}
		}
		if g.index%5 == 0 { // not drawn from g.r: see replicaCommand
			cmds = append(cmds, MustEncode(g.replicaCommand()))
		}
		if g.index%7 == 0 { // likewise
			cmds = append(cmds, g.membershipCommands(t)...)
		}
		if g.index%3 == 0 { // likewise
			cmds = append(cmds, g.serviceCommands(t)...)
		}
		if g.index%11 == 0 { // likewise: cloud records, drawing nothing
			cmds = append(cmds, MustEncode(cloudCommand(g.index)))
		}
		if g.index%4 == 1 { // likewise; every other state update in the binary form
			c := g.opsCommand()
			if u, ok := c.(*JobStateUpdate); ok && g.index%8 == 1 {
				c = (*JobStateUpdateBin)(u)
			}
			cmds = append(cmds, MustEncode(c))
		}
		if g.index%13 == 0 { // likewise: array jobs and canceled tasks
			cmds = append(cmds, g.arrayCommands(t)...)
		}
		if g.index%13 == 2 { // likewise, drawing nothing
			cmds = append(cmds, MustEncode(g.auditedCommand()))
		}
		log = append(log, entry{g.index, cmds})
	}
	return log
}

// resultString renders a result for comparison across replicas.
func resultString(r any) string {
	if err, ok := r.(error); ok {
		return "error: " + err.Error()
	}
	if j, ok := r.(*structs.Job); ok && j != nil && (j.Array != nil || j.Dependency != nil) {
		b, _ := json.Marshal(j) // %#v would print the array's or dependency's address
		return string(b)
	}
	return fmt.Sprintf("%#v", r)
}

func TestFSMReplayDeterministic(t *testing.T) {
	log := buildLog(t, 42, 400)

	// A applies single-command entries through raft.FSM.Apply, B through
	// ApplyCommands; both must end in the same state with the same results.
	a, b := newFSM(t), newFSM(t)
	var resA, resB []string
	errCount, transitionErrs := 0, 0
	casHeld, casRefused := 0, 0 // upserts with a precondition
	retained := 0               // retention purges that deleted jobs
	typesOK := map[CommandType]bool{}
	newForms := map[string]int{} // commands of forms added since the golden log, applied
	for _, e := range log {
		var ra []any
		if len(e.cmds) == 1 {
			ra = []any{a.Apply(&raft.Log{Index: e.index, Type: raft.LogCommand, Data: e.cmds[0]})}
		} else {
			ra = a.ApplyCommands(e.index, e.cmds)
		}
		rb := b.ApplyCommands(e.index, e.cmds)
		for i, r := range ra {
			resA, resB = append(resA, resultString(r)), append(resB, resultString(rb[i]))
			if c, err := Decode(e.cmds[i]); err == nil {
				if p, ok := c.(interface{ IsZero() bool }); ok && !p.IsZero() {
					if err, ok := r.(error); !ok {
						casHeld++
					} else if errors.Is(err, structs.ErrConflict) {
						casRefused++
					}
				}
			}
			if err, ok := r.(error); ok {
				errCount++
				var te *structs.TransitionError
				if errors.As(err, &te) {
					transitionErrs++
				}
			} else if c, err := Decode(e.cmds[i]); err == nil {
				typesOK[TypeOf(c)] = true
				if p, ok := c.(*JobPurge); ok && !p.EndedBefore.IsZero() && r.(int) > 0 {
					retained++
				}
				switch c := c.(type) {
				case *TeamUpsert:
					newForms["team members set"] += btoi(c.SetMembers)
				case *TeamDelete:
					newForms["team deleted with its members"] += btoi(c.DropMembers)
				case *TenantUpsert:
					newForms["tenant id range"] += btoi(!c.Tenant.IDRange.IsZero())
				case *UserUpsert:
					newForms["user identity"] += btoi(c.User.Identity.UID != 0)
				}
			}
		}
	}
	if diff := cmp.Diff(resA, resB); diff != "" {
		t.Fatalf("results differ between replicas:\n%s", diff)
	}
	for _, ct := range Types() {
		if !typesOK[ct] {
			t.Errorf("log never applied %s successfully", ct)
		}
	}
	if errCount < 20 || transitionErrs < 5 {
		t.Errorf("log has %d errors, %d illegal transitions; want more", errCount, transitionErrs)
	}
	if casHeld < 5 || casRefused < 5 {
		t.Errorf("log has %d upserts whose precondition held, %d refused; want more of each", casHeld, casRefused)
	}
	if retained == 0 {
		t.Error("no retention purge (JobPurge with a cutoff) deleted a job")
	}
	for _, form := range []string{"team members set", "team deleted with its members", "tenant id range", "user identity"} {
		if newForms[form] == 0 {
			t.Errorf("the log never applied a %s", form)
		}
	}
	t.Logf("%d entries, %d commands, %d errors (%d illegal transitions), %d preconditions held, %d refused, latest index %d",
		len(log), len(resA), errCount, transitionErrs, casHeld, casRefused, a.Store().LatestIndex())

	snapA, snapB := snapshotBytes(t, a), snapshotBytes(t, b)
	if !bytes.Equal(snapA, snapB) {
		t.Fatalf("replay snapshots differ:\n%s", cmp.Diff(string(snapA), string(snapB)))
	}
	c := restored(t, snapA)
	if snapC := snapshotBytes(t, c); !bytes.Equal(snapA, snapC) {
		t.Fatalf("restored snapshot differs:\n%s", cmp.Diff(string(snapA), string(snapC)))
	}

	// The restored replica keeps going exactly like the original.
	more := buildLog(t, 7, 50)[5:]
	for i := range more {
		more[i].index += a.Store().LatestIndex()
		ra, rc := a.ApplyCommands(more[i].index, more[i].cmds), c.ApplyCommands(more[i].index, more[i].cmds)
		for k := range ra {
			if resultString(ra[k]) != resultString(rc[k]) {
				t.Fatalf("after restore, entry %d command %d: %s vs %s", more[i].index, k, resultString(ra[k]), resultString(rc[k]))
			}
		}
	}
	if !bytes.Equal(snapshotBytes(t, a), snapshotBytes(t, c)) {
		t.Fatal("snapshots differ after continuing on the restored replica")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
