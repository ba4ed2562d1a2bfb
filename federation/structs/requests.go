package structs

import (
	"time"
)

// Request and response bodies of the hub's REST API (v1). The server
// decodes them strictly (unknown fields are errors); the client encodes them.

// JobSubmitRequest is the body of POST /v1/jobs.
type JobSubmitRequest struct {
	// ID makes the submission idempotent: the submitter stamps it, and
	// submitting the same ID again returns the job already stored. The hub
	// makes one when it is empty (then a retried request is a new job).
	ID          string            `json:"id,omitempty"`
	App         string            `json:"app"`
	Command     string            `json:"command,omitempty"`
	Parameters  map[string]string `json:"parameters,omitempty"`
	MachineType string            `json:"machine_type"`
	Nodes       int               `json:"nodes"`
	Vault       string            `json:"vault,omitempty"`
	Walltime    Duration          `json:"walltime,omitempty"`
	Priority    PriorityClass     `json:"priority,omitempty"`
	Label       string            `json:"label,omitempty"`
	Project     string            `json:"project,omitempty"`
	// Team charges the job to one of the submitter's teams.
	Team string `json:"team,omitempty"`
	// CallbackURL, if set, is called on the job's state changes; it must
	// pass the administrators' webhook allow-list.
	CallbackURL string `json:"callback_url,omitempty"`
	// Array makes it an array job ("1-10000:2%64" or the object form);
	// TaskRetries and TaskWalltime apply to each of its tasks.
	Array        *ArraySpec `json:"array,omitempty"`
	TaskRetries  int        `json:"task_retries,omitempty"`
	TaskWalltime Duration   `json:"task_walltime,omitempty"`
	// TaskCPUBind binds each slot's tasks to CPUs of their own: "none"
	// or "slots" (array_cpubind.go; "": the default).
	TaskCPUBind string `json:"task_cpu_bind,omitempty"`
	// Signal asks for a signal before the walltime ends: Slurm's
	// --signal, "[B:]SIG[@TIME]" (signal_at.go; needs a walltime).
	Signal string `json:"signal,omitempty"`
	// PullSecret is a pull credential for this job's image (a docker
	// config JSON; the JARVICE container.pullsecret): it wins over the
	// app's. Never shown back.
	PullSecret string `json:"pull_secret,omitempty"`
	// Dependency is Slurm's --dependency: "afterok:12:13", types after,
	// afterany, afterok, afternotok joined by "," (all) or "?" (any), of
	// jobs named by number or id (see ParseDependency).
	Dependency string `json:"dependency,omitempty"`
	// Env are variables set in the job's processes on every node
	// (POSIX names; not FLOTILLA_*, SLURM_* or JARVICE_*; see CheckEnv).
	Env map[string]string `json:"env,omitempty"`
	// Workdir is the absolute directory the job's command starts in on
	// every node; the job fails if it does not exist there.
	Workdir string `json:"workdir,omitempty"`
	// Script is a job script (sbatch's batch script) run in Image instead
	// of an app's command: App, Command and Parameters stay empty. It
	// must start with "#!" and its interpreter; ScriptArgs are its $1...
	// (see CheckJobScript, docs/cli.md "Job scripts").
	Script     string   `json:"script,omitempty"`
	Image      string   `json:"image,omitempty"`
	ScriptArgs []string `json:"script_args,omitempty"`
}

// JobList is one page of jobs. Next, when non-zero, is the value of the
// after parameter that fetches the next page. Index is the jobs table's
// raft index the page was read at (also in the X-Flotilla-Index header),
// the value to pass as index to wait for a later change.
type JobList struct {
	Jobs  []*Job `json:"jobs"`
	Next  uint64 `json:"next,omitempty"`
	Index uint64 `json:"index"`
}

// JobControlRequest is the optional body of POST /v1/jobs/{id}/cancel and
// /terminate.
type JobControlRequest struct {
	Reason string `json:"reason,omitempty"`
}

// UserSpec is the body of PUT /v1/users/{username}: a user as an
// administrator writes it. Password, when set, replaces the stored bcrypt
// hash; API keys are managed through their own endpoints and kept.
type UserSpec struct {
	Tenant   string   `json:"tenant"`
	Email    string   `json:"email,omitempty"`
	Teams    []string `json:"teams,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	Role     Role     `json:"role"`
	Identity Identity `json:"identity"`
	Password string   `json:"password,omitempty"`
	Disabled bool     `json:"disabled,omitempty"`
}

// UserView is a user as the API shows it: without password or key hashes.
type UserView struct {
	RaftIndex
	Username    string       `json:"username"`
	Email       string       `json:"email,omitempty"`
	Tenant      string       `json:"tenant"`
	Teams       []string     `json:"teams,omitempty"`
	Groups      []string     `json:"groups,omitempty"`
	Role        Role         `json:"role"`
	Identity    Identity     `json:"identity"`
	APIKeys     []APIKeyInfo `json:"api_keys,omitempty"`
	HasPassword bool         `json:"has_password,omitempty"`
	Disabled    bool         `json:"disabled,omitempty"`
}

// NewUserView returns what the API shows of u.
func NewUserView(u *User) *UserView {
	v := &UserView{
		RaftIndex: u.RaftIndex, Username: u.Username, Email: u.Email, Tenant: u.Tenant,
		Teams: u.Teams, Groups: u.Groups, Role: u.Role, Identity: u.Identity,
		HasPassword: u.PasswordHash != "", Disabled: u.Disabled,
	}
	for _, k := range u.APIKeys {
		if k.Session {
			continue // portal sessions are not API keys
		}
		v.APIKeys = append(v.APIKeys, APIKeyInfo{ID: k.ID, Name: k.Name, Created: k.Created, LastUsed: k.LastUsed})
	}
	return v
}

// APIKeyRequest is the body of POST /v1/users/{username}/apikeys.
type APIKeyRequest struct {
	Name string `json:"name,omitempty"`
}

// APIKeyInfo describes a stored API key without its secret or hash.
type APIKeyInfo struct {
	ID      string    `json:"id"`
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created,omitzero"`
	// LastUsed is when the key last authenticated, to the hour; zero
	// when never.
	LastUsed time.Time `json:"last_used,omitzero"`
}

// APIKeyCreated is the reply to creating an API key or agent key: Key is
// the secret, shown this once and never stored.
type APIKeyCreated struct {
	APIKeyInfo
	Key string `json:"key"`
}

// ClusterSpec is the body of PUT /v1/clusters/{name}: the registration
// fields of a cluster. The agent key is issued by POST
// /v1/clusters/{name}/agentkey; status and capacity come from the agent.
type ClusterSpec struct {
	Zone   string            `json:"zone,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// ClusterStatusReport is the body of POST /v1/clusters/{name}/status, sent
// by the cluster's agent: its status, its capacity by machine type, and
// progress of the jobs assigned to it.
type ClusterStatusReport struct {
	Status   ClusterStatus       `json:"status,omitempty"`
	Capacity map[string]Capacity `json:"capacity,omitempty"`
	Jobs     []JobReport         `json:"jobs,omitempty"`
	// Catalog, when set, replaces the hub's record of the apps' images on
	// the cluster (an agent sends it when it changed).
	Catalog *ClusterCatalog `json:"catalog,omitempty"`
	// Agent is the agent's version and the features its runtime honours;
	// the hub records it on the cluster when it changed. An agent that
	// sends none is taken for one older than feature reports.
	Agent *AgentInfo `json:"agent,omitempty"`
}

// JobReport is an agent's report on one job. Number must be the job's
// number: an id may be used again after its job is purged, a number never
// is, so a late report about a purged job cannot land on a newer job.
type JobReport struct {
	ID        string   `json:"id"`
	Number    uint64   `json:"number"`
	State     JobState `json:"state"`
	Substatus string   `json:"substatus,omitempty"`
	ExitCode  int      `json:"exit_code,omitempty"`
	LogTail   string   `json:"log_tail,omitempty"`
	// Array is an array job's progress, replacing the recorded one.
	Array *ArrayProgress `json:"array,omitempty"`
	// Outputs are task outputs the head answered requests with.
	Outputs []TaskOutput `json:"outputs,omitempty"`
	// ConnectURL is a running interactive job's token-guarded address.
	ConnectURL string `json:"connect_url,omitempty"`
}

// ClusterStatusResult answers a ClusterStatusReport: one entry per job
// report, in order.
type ClusterStatusResult struct {
	Jobs []JobReportResult `json:"jobs,omitempty"`
}

// ReportOutcome is what became of one JobReport.
type ReportOutcome string

// Report outcomes. An agent forgets a report once it is Applied or Stale
// and keeps (and sends again) a report whose outcome is Retry.
const (
	// ReportApplied: recorded, or it repeats what is recorded (a final
	// state reported again).
	ReportApplied ReportOutcome = "applied"
	// ReportStale: it can never apply — the job is gone (purged), its id
	// belongs to another number, it was moved to another cluster, or its
	// recorded state does not allow this one (it ended otherwise). Nothing
	// to retry.
	ReportStale ReportOutcome = "stale"
	// ReportRetry: not recorded for a passing reason (no leader, a write
	// timed out); send it again.
	ReportRetry ReportOutcome = "retry"
)

// JobReportResult is the outcome of one JobReport; Error says why when
// the outcome is not ReportApplied.
type JobReportResult struct {
	ID      string        `json:"id"`
	Number  uint64        `json:"number,omitempty"`
	Outcome ReportOutcome `json:"outcome,omitempty"`
	Error   string        `json:"error,omitempty"`
}

// AssignmentList is the reply to GET
// /v1/clusters/{name}/assignments?index=&wait=&after=&limit=.
//
// A full listing (index 0) holds the jobs active on the cluster (ASSIGNED,
// STARTING, RUNNING) and is read linearizably: it holds every assignment a
// watch of any replica delivered before it. A watch (index > 0) waits up
// to wait until a job of the cluster or the catalog (machine types, apps,
// vaults) changes past index, and holds the cluster's jobs that changed
// after it, including those that ended or were moved away since (their
// State, Cluster and PreviousCluster say so); it holds none when only the
// catalog changed or wait passed. Both are paged in job-number order
// (limit default 1000, at most 10000): Next, when non-zero, is the after
// value of the next page, asked with the same index. Index is the raft
// index the page was read at; a reader of several pages watches on from
// the first page's Index, so nothing that changed while it paged is
// missed (some changes then come twice).
type AssignmentList struct {
	Assignments []*Assignment `json:"assignments"`
	// MachineTypes are the machine types pinned to the cluster and those
	// the page's jobs run on, as of Index, for level 1 and the capacity
	// report: a change reaches the agent with the next watch.
	MachineTypes []*MachineType `json:"machine_types"`
	Index        uint64         `json:"index"`
	Next         uint64         `json:"next,omitempty"`
}

// Assignment is everything an agent needs to run one job, read from one
// hub snapshot, so the agent makes no call back per job. Only a job
// active on the cluster is resolved; one that ended or moved away carries
// Job alone.
type Assignment struct {
	Job *Job `json:"job"`
	// MachineType is the machine type the job runs on (the burst rule's,
	// when one placed it).
	MachineType *MachineType `json:"machine_type,omitempty"`
	// Command is the AppDef command the job runs (Job.Command of its app)
	// and Image the app's container image ("" for the agent's default).
	Command *Command `json:"command,omitempty"`
	Image   string   `json:"image,omitempty"`
	// APIKey is a key scoped to the job (JARVICE API, the owner, while the
	// job runs) and APIURL the hub's API, for %APIKEY% and %APIURL%.
	APIKey string `json:"api_key,omitempty"`
	APIURL string `json:"api_url,omitempty"`
	// Vault is the job's vault, nil when it has none.
	Vault *Vault `json:"vault,omitempty"`
	// Identity is the uid/gid the job runs as (stamped at submit, else the
	// owner's user record), nil when the hub knows none.
	Identity *Identity `json:"identity,omitempty"`
	// Problem, when set, says why the job cannot run, naming what is
	// missing (e.g. `app "solver" no longer exists`; its app, command,
	// machine type or vault): nothing else is resolved, and the agent
	// ends the job with this reason and creates nothing for it.
	Problem string `json:"problem,omitempty"`
	// PullSecret is the pull credential of the job's image (docker config
	// JSON): the job's own, else its app's; "" for a public image. The
	// agent puts it in a kubernetes.io/dockerconfigjson Secret its pods
	// name in imagePullSecrets.
	PullSecret string `json:"pull_secret,omitempty"`
}

// ErrorBody is the JSON body of every error reply.
type ErrorBody struct {
	Error string `json:"error"`
	// Errors lists every rule a document broke, with its JSON path, when
	// the error is a ValidationError (e.g. an invalid AppDef).
	Errors []PathError `json:"errors,omitempty"`
	// Code, when set, names the failure for programs: CodeNoSuchEndpoint.
	Code string `json:"code,omitempty"`
}

// CodeNoSuchEndpoint is the ErrorBody.Code of a request for a path and
// method the hub does not serve (a 404 like a missing object's, but one
// an older hub gives for an endpoint it predates).
const CodeNoSuchEndpoint = "no_such_endpoint"

// CallerInfo is the reply to GET /v1/whoami: who the credentials belong to.
type CallerInfo struct {
	Username   string   `json:"username,omitempty"`
	Tenant     string   `json:"tenant,omitempty"`
	Role       Role     `json:"role,omitempty"`
	Teams      []string `json:"teams,omitempty"`
	AdminTeams []string `json:"admin_teams,omitempty"`
	Global     bool     `json:"global,omitempty"`
	Cluster    string   `json:"cluster,omitempty"`
}

// Deleted is the reply to a successful DELETE.
type Deleted struct {
	Deleted string `json:"deleted"`
}

// RegisterRequest is the body of POST /v1/clusters/{name}/register: the
// cluster's one-time bootstrap token, exchanged for its agent key.
type RegisterRequest struct {
	Token string `json:"token"`
	// AgentKey, when set, is the agent key the agent made for itself
	// ("fla_" + 16 + "_" + 64 lowercase hex digits, NewKey's shape): the
	// hub stores its hash instead of making one. Sent again with the same
	// token after the token was used for it, it is accepted again, so an
	// agent whose registration's reply was lost (the replica died, the
	// connection broke) retries and gets the same key, where a hub-made
	// key would be lost with the reply and the token spent.
	AgentKey string `json:"agent_key,omitempty"`
}
