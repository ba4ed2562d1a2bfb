package structs

import (
	"encoding/json"
	"fmt"
	"time"
)

// JARVICE-compatible API (/jarvice/*) bodies, in the field names JARVICE
// clients send and expect.

// JarviceSubmit is the body of POST /jarvice/submit. Fields Flotilla does
// not act on (container, licenses, queue, gen_sshkey, identity, geometry,
// vault readonly/force) are accepted so that existing scripts keep working.
type JarviceSubmit struct {
	App         string              `json:"app"`
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
}

// JarviceApplication names the command to run and its parameters. A
// parameter value is a JSON string, number or boolean.
type JarviceApplication struct {
	Command    string                     `json:"command"`
	Parameters map[string]json.RawMessage `json:"parameters,omitempty"`
	Geometry   string                     `json:"geometry,omitempty"`
	Walltime   string                     `json:"walltime,omitempty"` // HH:MM:SS
}

// JarviceContainer is a custom-container submission (accepted, not used).
type JarviceContainer struct {
	Image      string `json:"image,omitempty"`
	Jobscript  string `json:"jobscript,omitempty"`
	Pullsecret string `json:"pullsecret,omitempty"`
}

// JarviceMachine picks the machine type and node count.
type JarviceMachine struct {
	Type  string `json:"type"`
	Nodes int    `json:"nodes"`
}

// JarviceVault picks the data vault.
type JarviceVault struct {
	Name     string `json:"name"`
	Readonly bool   `json:"readonly,omitempty"`
	Force    bool   `json:"force,omitempty"`
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

// JarviceJobStatus is one job in the replies of /jarvice/status and
// /jarvice/jobs, which map job numbers (as strings) to it. Times are Unix
// seconds, 0 when unset.
type JarviceJobStatus struct {
	JobName        string `json:"job_name"`
	JobStatus      string `json:"job_status"`
	JobSubstatus   string `json:"job_substatus"`
	JobSubmitTime  int64  `json:"job_submit_time"`
	JobStartTime   int64  `json:"job_start_time"`
	JobEndTime     int64  `json:"job_end_time"`
	JobApplication string `json:"job_application"`
	JobCommand     string `json:"job_command"`
	JobWalltime    string `json:"job_walltime"`
	JobProject     string `json:"job_project"`
}

// JARVICE job status spellings.
const (
	JarviceSubmitted          = "SUBMITTED"
	JarviceProcessingStarting = "PROCESSING STARTING"
	JarviceCompleted          = "COMPLETED"
	JarviceCompletedWithError = "COMPLETED WITH ERROR"
	JarviceCanceled           = "CANCELED"
	JarviceTerminated         = "TERMINATED"
)

// JarviceStatusOf returns the JARVICE spelling of s and a substatus naming
// the Flotilla state where JARVICE has no word for it (e.g. "Queued").
func JarviceStatusOf(s JobState) (status, substatus string) {
	switch s {
	case JobSubmitted:
		return JarviceSubmitted, ""
	case JobHeld:
		return JarviceSubmitted, "Held"
	case JobQueued:
		return JarviceSubmitted, "Queued"
	case JobAssigned:
		return JarviceSubmitted, "Assigned"
	case JobStarting:
		return JarviceProcessingStarting, "Starting"
	case JobRunning:
		return JarviceProcessingStarting, "Running"
	case JobCompleted:
		return JarviceCompleted, ""
	case JobCompletedWithError:
		return JarviceCompletedWithError, ""
	case JobCanceled:
		return JarviceCanceled, ""
	case JobTerminated:
		return JarviceTerminated, ""
	}
	return string(s), ""
}

// NewJarviceJobStatus returns what /jarvice/status shows of j.
func NewJarviceJobStatus(j *Job) JarviceJobStatus {
	status, sub := JarviceStatusOf(j.State)
	if j.Substatus != "" {
		if sub != "" {
			sub += ": "
		}
		sub += j.Substatus
	}
	return JarviceJobStatus{
		JobName:        j.Name,
		JobStatus:      status,
		JobSubstatus:   sub,
		JobSubmitTime:  unixOrZero(j.SubmitTime),
		JobStartTime:   unixOrZero(j.StartTime),
		JobEndTime:     unixOrZero(j.EndTime),
		JobApplication: j.App,
		JobCommand:     j.Command,
		JobWalltime:    FormatWalltime(j.Walltime),
		JobProject:     j.Project,
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

// JarviceJobInfo is the reply to /jarvice/info.
type JarviceJobInfo struct {
	Name    string `json:"name"`
	Number  uint64 `json:"number"`
	Status  string `json:"status"`
	Cluster string `json:"cluster,omitempty"`
	// Address and URL reach an interactive job once it runs ("" until then).
	Address string `json:"address"`
	URL     string `json:"url"`
}

// JarviceApp is one entry of the /jarvice/apps reply, keyed by app name.
type JarviceApp struct {
	Data   AppDef `json:"data"`
	Public bool   `json:"public"`
}

// JarviceAction is the reply to /jarvice/shutdown and /jarvice/terminate.
type JarviceAction struct {
	Status string `json:"status"`
}
