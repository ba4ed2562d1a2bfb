package structs

import (
	"slices"
	"strings"
)

// AgentFeature names something a cluster agent's runtime honours, which
// a job may need (Job.NeedsFeatures). Agents list theirs in every status
// push (AgentInfo); the hub keeps the list on the cluster (Cluster.Agent)
// and placement puts a job only on a cluster whose agent lists every
// feature the job needs, so a job never runs where its fields would be
// ignored. Names are lowercase words joined by '-'; a name is never given
// another meaning.
type AgentFeature string

// The features a job may need. An agent lists those its binary
// implements (clusteragent/runtime.Features).
const (
	// FeatureJobEnv: the job's own variables (Job.Env, --export) are set
	// in its processes on every node.
	FeatureJobEnv AgentFeature = "job-env"
	// FeatureJobWorkdir: the job's command starts in its working
	// directory (Job.Workdir, --chdir).
	FeatureJobWorkdir AgentFeature = "job-workdir"
	// FeatureArrayJobs: an array job's tasks run inside its allocation
	// (Job.Array, --array).
	FeatureArrayJobs AgentFeature = "array-jobs"
	// FeatureArrayIndexLists: an array job's index list
	// (--array=1,3,7,10-20:2, Job.HasArrayList) is run; an agent from
	// before lists cannot decode such a job.
	FeatureArrayIndexLists AgentFeature = "array-index-lists"
	// FeatureArrayCPUBind: an array job's CPU binding (--task-cpu-bind,
	// Job.TaskCPUBind) is honoured by flotilla-init.
	FeatureArrayCPUBind AgentFeature = "array-cpu-bind"
	// FeatureJobSignals: signal requests to a running job (Job.Signals,
	// flotilla signal) reach its processes through flotilla-init.
	FeatureJobSignals AgentFeature = "job-signals"
	// FeatureJobSignalAt: a signal before the walltime ends, asked for at
	// submission (--signal, Job.SignalAt), is sent by flotilla-init.
	FeatureJobSignalAt AgentFeature = "job-signal-at"
	// FeatureJobShares: an interactive job's share links (Job.Shares,
	// flotilla share) reach its token guard through the j<N>-shares
	// Secret, as token hashes.
	FeatureJobShares AgentFeature = "job-shares"
)

// What is the feature as a user meets it, for placement's reasons:
// "cluster east's agent does not run <what>".
func (f AgentFeature) What() string {
	switch f {
	case FeatureJobEnv:
		return "jobs with an environment (--export)"
	case FeatureJobWorkdir:
		return "jobs with a working directory (--chdir)"
	case FeatureArrayJobs:
		return "array jobs (--array)"
	case FeatureArrayIndexLists:
		return "array jobs with index lists (--array=1,3,7)"
	case FeatureArrayCPUBind:
		return "array jobs with a CPU binding (--task-cpu-bind)"
	case FeatureJobSignals:
		return "jobs that take signals (flotilla signal)"
	case FeatureJobSignalAt:
		return "jobs with a signal before the walltime ends (--signal)"
	case FeatureJobShares:
		return "share links of interactive jobs (flotilla share)"
	}
	return "jobs that need " + string(f)
}

// NeedsFeatures returns the agent features job j needs, in a fixed order:
// a pure function of the job's fields.
func (j *Job) NeedsFeatures() []AgentFeature { return j.AppendNeededFeatures(nil) }

// AppendNeededFeatures appends NeedsFeatures to out (placement passes a
// buffer of its own: no allocation per job and cluster tried).
func (j *Job) AppendNeededFeatures(out []AgentFeature) []AgentFeature {
	if len(j.Env) > 0 {
		out = append(out, FeatureJobEnv)
	}
	if j.Workdir != "" {
		out = append(out, FeatureJobWorkdir)
	}
	if j.Array != nil {
		out = append(out, FeatureArrayJobs)
	}
	if j.HasArrayList() {
		out = append(out, FeatureArrayIndexLists)
	}
	if j.TaskCPUBind() != "" {
		out = append(out, FeatureArrayCPUBind)
	}
	if _, ok := j.Env[JobSignalAtVar]; ok {
		out = append(out, FeatureJobSignalAt)
	}
	return out
}

// AgentInfo is what a cluster's agent says of itself in its status push
// (ClusterStatusReport.Agent) and what the hub keeps of it on the cluster
// (Cluster.Agent).
type AgentInfo struct {
	// Version is the agent binary's version (internal/version).
	Version string `json:"version,omitempty"`
	// Features are what its runtime honours, sorted, each once.
	Features []AgentFeature `json:"features,omitempty"`
}

// Limits of an AgentInfo.
const (
	MaxAgentFeatures   = 64
	maxAgentFeatureLen = 63
	maxAgentVersionLen = 128
)

// Validate checks an agent's report of itself: a printable version and
// well-formed feature names, sorted and each once (Normalize makes them
// so). Names this hub does not know are accepted: a newer agent may
// honour more.
func (a *AgentInfo) Validate() error {
	if a == nil {
		return nil
	}
	if len(a.Version) > maxAgentVersionLen {
		return invalidf("agent version: longer than %d bytes", maxAgentVersionLen)
	}
	for _, r := range a.Version {
		if r <= 0x20 || r >= 0x7f {
			return invalidf("agent version %q: want printable ASCII without spaces", a.Version)
		}
	}
	if len(a.Features) > MaxAgentFeatures {
		return invalidf("agent features: %d, at most %d", len(a.Features), MaxAgentFeatures)
	}
	for i, f := range a.Features {
		if !validFeatureName(string(f)) {
			return invalidf("agent feature %q: want lowercase letters, digits and '-', at most %d bytes", f, maxAgentFeatureLen)
		}
		if i > 0 && a.Features[i-1] >= f {
			return invalidf("agent features: not sorted, or %q twice", f)
		}
	}
	return nil
}

func validFeatureName(s string) bool {
	if s == "" || len(s) > maxAgentFeatureLen || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-')
	}) < 0
}

// Normalize sorts the features and drops repeats, in place.
func (a *AgentInfo) Normalize() {
	if a != nil {
		slices.Sort(a.Features)
		a.Features = slices.Compact(a.Features)
	}
}

// Has reports whether the agent lists feature f (false for nil: an agent
// that never reported its features).
func (a *AgentInfo) Has(f AgentFeature) bool {
	if a == nil {
		return false
	}
	_, found := slices.BinarySearch(a.Features, f)
	return found
}

// Equal reports whether a and b say the same (nil equals only nil).
func (a *AgentInfo) Equal(b *AgentInfo) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Version == b.Version && slices.Equal(a.Features, b.Features)
}

// Copy returns a deep copy of a.
func (a *AgentInfo) Copy() *AgentInfo {
	if a == nil {
		return nil
	}
	return &AgentInfo{Version: a.Version, Features: slices.Clone(a.Features)}
}
