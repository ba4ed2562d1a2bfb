package structs

import (
	"encoding/json"
	"fmt"
	"time"
)

// JARVICE-compatible API (/jarvice/*) bodies, in the field names JARVICE
// clients send and expect.

// JarviceSubmit is the body of /jarvice/submit and /jarvice/batch, with
// every field the JARVICE reference and its clients' models document.
// Flotilla honours app, application (command, parameters, walltime),
// container (batch: image, jobscript and pullsecret, the base64 of a
// docker config JSON the job's pods pull the image with), machine, vault
// name, user, job_label, job_project and job_priority; it accepts and
// ignores the rest (staging, checkedout, geometry, ipaddr, public_ip, hpc,
// licenses, queue, gen_sshkey, identity, vault
// readonly/force/password/objects): see docs/jarvice.md.
type JarviceSubmit struct {
	App         string              `json:"app"`
	Staging     bool                `json:"staging,omitempty"`
	CheckedOut  bool                `json:"checkedout,omitempty"`
	Application JarviceApplication  `json:"application"`
	Container   *JarviceContainer   `json:"container,omitempty"`
	Machine     JarviceMachine      `json:"machine"`
	Vault       *JarviceVault       `json:"vault,omitempty"`
	User        JarviceUser         `json:"user"`
	Identity    *JarviceJobIdentity `json:"identity,omitempty"`
	JobLabel    string              `json:"job_label,omitempty"`
	JobProject  string              `json:"job_project,omitempty"`
	JobPriority string              `json:"job_priority,omitempty"`
	Licenses    string              `json:"licenses,omitempty"`
	Queue       string              `json:"queue,omitempty"`
	GenSSHKey   bool                `json:"gen_sshkey,omitempty"`
	PublicIP    bool                `json:"public_ip,omitempty"`
	PublicIPAlt bool                `json:"publicIP,omitempty"` // the clients' spelling
	IPAddr      string              `json:"ipaddr,omitempty"`
	HPC         json.RawMessage     `json:"hpc,omitempty"`
	JobSub      string              `json:"jobsub,omitempty"`
	NoPassSubt  bool                `json:"nopasssubt,omitempty"`
	TestComment string              `json:"test_comment,omitempty"`
	// FlotillaArray is Flotilla's extension: it makes the job an array
	// job (see docs/jarvice.md and docs/array-jobs.md).
	FlotillaArray *JarviceArray `json:"flotilla_array,omitempty"`
	// FlotillaDependency, FlotillaEnv and FlotillaWorkdir are Flotilla's
	// extensions for sbatch's --dependency, --export and --chdir (the
	// v1 submission's dependency, env and workdir).
	FlotillaDependency string            `json:"flotilla_dependency,omitempty"`
	FlotillaEnv        map[string]string `json:"flotilla_env,omitempty"`
	FlotillaWorkdir    string            `json:"flotilla_workdir,omitempty"`
	// FlotillaSignal is Flotilla's extension for sbatch's --signal: a
	// signal before the walltime ends, "[B:]SIG[@TIME]" (the v1
	// submission's signal).
	FlotillaSignal string `json:"flotilla_signal,omitempty"`
}

// JarviceArray is the flotilla_array extension of a JARVICE submission.
type JarviceArray struct {
	// Array is "START-END[:STEP][%MAX]", a list "1,3,7-9%2" or an
	// object form (see ArraySpec).
	Array        ArraySpec `json:"array"`
	TaskRetries  int       `json:"task_retries,omitempty"`
	TaskWalltime string    `json:"task_walltime,omitempty"` // Go duration or HH:MM:SS
	TaskCPUBind  string    `json:"task_cpu_bind,omitempty"` // none or slots
}

// JarviceApplication names the command to run and its parameters. A
// parameter value is a JSON string, number or boolean (an UPLOAD's may be
// an object with base64 "data").
type JarviceApplication struct {
	Command    string                     `json:"command"`
	Parameters map[string]json.RawMessage `json:"parameters,omitempty"`
	Geometry   string                     `json:"geometry,omitempty"`
	Walltime   string                     `json:"walltime,omitempty"` // HH:MM:SS
	IPAddr     string                     `json:"ipaddr,omitempty"`
	NoSubmit   bool                       `json:"nosubmit,omitempty"`
}

// JarviceContainer is the container of a /jarvice/batch job.
type JarviceContainer struct {
	Image       string `json:"image,omitempty"`
	Jobscript   string `json:"jobscript,omitempty"`
	Pullsecret  string `json:"pullsecret,omitempty"`
	Interactive bool   `json:"interactive,omitempty"`
}

// JarviceMachine picks the machine type and node count (default 1).
type JarviceMachine struct {
	Type  string `json:"type"`
	Nodes int    `json:"nodes"`
}

// JarviceVault picks the data vault.
type JarviceVault struct {
	Name     string   `json:"name"`
	Readonly bool     `json:"readonly,omitempty"`
	Force    bool     `json:"force,omitempty"`
	Password string   `json:"password,omitempty"`
	Objects  []string `json:"objects,omitempty"`
	Bucket   string   `json:"bucket,omitempty"`
	Confirm  string   `json:"confirm,omitempty"`
	Domain   string   `json:"domain,omitempty"`
}

// JarviceUser authenticates a JARVICE request.
type JarviceUser struct {
	Username string `json:"username"`
	APIKey   string `json:"apikey"`
}

// JarviceJobIdentity overrides the job's POSIX identity (accepted, not used).
type JarviceJobIdentity struct {
	Username string `json:"username,omitempty"`
	Group    string `json:"group,omitempty"`
	UID      int    `json:"uid,omitempty"`
	GID      int    `json:"gid,omitempty"`
}

// JarviceSubmitReply is the reply to /jarvice/submit.
type JarviceSubmitReply struct {
	Name   string `json:"name"`
	Number uint64 `json:"number"`
}

// JarviceJobStatus is one job in the replies of /jarvice/status,
// /jarvice/jobs and /jarvice/teamjobs, which map job numbers (as strings)
// to it. Times are Unix seconds, 0 when unset. job_substatus is an integer
// code (JarviceSubstatus...) and job_substatus_text its words.
type JarviceJobStatus struct {
	JobName          string `json:"job_name"`
	JobStatus        string `json:"job_status"`
	JobSubstatus     int    `json:"job_substatus"`
	JobSubstatusText string `json:"job_substatus_text"`
	JobSubmitTime    int64  `json:"job_submit_time"`
	JobStartTime     int64  `json:"job_start_time"`
	JobEndTime       int64  `json:"job_end_time"`
	JobApplication   string `json:"job_application"`
	JobCommand       string `json:"job_command"`
	JobWalltime      string `json:"job_walltime"`
	JobProject       string `json:"job_project"`
	// The fields below are those of JARVICE's job entries (/jarvice/jobs).
	JobNumber        uint64 `json:"job_number"`
	JobLabel         string `json:"job_label"`
	JobOwnerUsername string `json:"job_owner_username"`
	JobMCName        string `json:"job_mc_name"`
	JobMCScale       int    `json:"job_mc_scale"`
	JobExitCode      int    `json:"job_exitcode"`
}

// Substatus codes of job_substatus (0: none).
const (
	JarviceSubstatusNone      = 0
	JarviceSubstatusQueued    = 1
	JarviceSubstatusHeld      = 2
	JarviceSubstatusAssigned  = 3
	JarviceSubstatusStarting  = 4
	JarviceSubstatusRunning   = 5
	JarviceSubstatusSuspended = 6
)

// JarviceSuspendedText is the reference's words for a running job its
// user stopped (SIGTSTP through /jarvice/signal; Job.Suspended).
const JarviceSuspendedText = "Suspended by user"

// JARVICE job status spellings.
const (
	JarviceSubmitted          = "SUBMITTED"
	JarviceProcessingStarting = "PROCESSING STARTING"
	JarviceCompleted          = "COMPLETED"
	JarviceCompletedWithError = "COMPLETED WITH ERROR"
	JarviceCanceled           = "CANCELED"
	JarviceTerminated         = "TERMINATED"
)

// JarviceStatusOf returns the JARVICE spelling of s, and a substatus code
// and text naming the Flotilla state where JARVICE has no word for it.
func JarviceStatusOf(s JobState) (status string, sub int, text string) {
	switch s {
	case JobSubmitted:
		return JarviceSubmitted, JarviceSubstatusNone, ""
	case JobHeld:
		return JarviceSubmitted, JarviceSubstatusHeld, "Held"
	case JobQueued:
		return JarviceSubmitted, JarviceSubstatusQueued, "Queued"
	case JobAssigned:
		return JarviceSubmitted, JarviceSubstatusAssigned, "Assigned"
	case JobStarting:
		return JarviceProcessingStarting, JarviceSubstatusStarting, "Starting"
	case JobRunning:
		return JarviceProcessingStarting, JarviceSubstatusRunning, "Running"
	case JobCompleted:
		return JarviceCompleted, JarviceSubstatusNone, ""
	case JobCompletedWithError:
		return JarviceCompletedWithError, JarviceSubstatusNone, ""
	case JobCanceled:
		return JarviceCanceled, JarviceSubstatusNone, ""
	case JobTerminated:
		return JarviceTerminated, JarviceSubstatusNone, ""
	}
	return string(s), JarviceSubstatusNone, ""
}

// NewJarviceJobStatus returns what /jarvice/status shows of j.
func NewJarviceJobStatus(j *Job) JarviceJobStatus {
	status, sub, text := JarviceStatusOf(j.State)
	if j.Suspended() {
		sub, text = JarviceSubstatusSuspended, JarviceSuspendedText
	} else if j.Substatus != "" {
		if text != "" {
			text += ": "
		}
		text += j.Substatus
	}
	return JarviceJobStatus{
		JobName:          j.Name,
		JobStatus:        status,
		JobSubstatus:     sub,
		JobSubstatusText: text,
		JobSubmitTime:    unixOrZero(j.SubmitTime),
		JobStartTime:     unixOrZero(j.StartTime),
		JobEndTime:       unixOrZero(j.EndTime),
		JobApplication:   j.App,
		JobCommand:       j.Command,
		JobWalltime:      FormatWalltime(j.Walltime),
		JobProject:       j.Project,
		JobNumber:        j.Number,
		JobLabel:         j.Label,
		JobOwnerUsername: j.Owner,
		JobMCName:        j.EffectiveMachineType(),
		JobMCScale:       j.Nodes,
		JobExitCode:      j.ExitCode,
	}
}

// FormatWalltime writes d as JARVICE's HH:MM:SS ("" for zero).
func FormatWalltime(d Duration) string {
	if d <= 0 {
		return ""
	}
	s := int64(time.Duration(d) / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// JarviceJobInfo is the reply to /jarvice/info: each value null when not
// applicable. Address and password reach an interactive job as
// /jarvice/connect gives them.
type JarviceJobInfo struct {
	URL      *string                      `json:"url"`
	About    *string                      `json:"about"`
	Help     *string                      `json:"help"`
	Actions  map[string]map[string]string `json:"actions"`
	Address  *string                      `json:"address"`
	Password *string                      `json:"password"`
}

// JarviceConnect is the reply to /jarvice/connect: the address is the
// job's token-guarded URL, the password the token it carries.
type JarviceConnect struct {
	Address  string `json:"address"`
	Password string `json:"password"`
}

// ConnectTokenParam is the query parameter of an interactive job's URL
// that carries its token (the token guard's, initproc.GuardQuery).
const ConnectTokenParam = "flotilla_token"

// JarviceApp is one entry of the /jarvice/apps reply, keyed by app name:
// the AppDef as JARVICE serves it and the catalog fields of its clients'
// model.
type JarviceApp struct {
	ID         string          `json:"id"`
	Data       json.RawMessage `json:"data"`
	Public     bool            `json:"public"`
	Price      float64         `json:"price"`
	Arch       string          `json:"arch"`
	Privs      []string        `json:"privs"`
	Src        string          `json:"src"`
	Repo       string          `json:"repo"`
	Updated    int64           `json:"updated"`
	CheckedOut bool            `json:"checkedout"`
	Certified  bool            `json:"certified"`
	Walltime   string          `json:"walltime"`
}

// JarviceAction is the reply of /jarvice/shutdown, /jarvice/terminate and
// /jarvice/action: "shutdown requested", "terminated", "action requested".
type JarviceAction struct {
	Status string `json:"status"`
}

// JarviceQueue is one queue of /jarvice/queues?info=true.
type JarviceQueue struct {
	Name    string `json:"name"`
	App     string `json:"app"`
	Machine string `json:"machine"`
	Size    int    `json:"size"`
}

// JarviceTeamUser is one member in /jarvice/teamusers.
type JarviceTeamUser struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}
