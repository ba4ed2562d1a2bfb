package placement

import "github.com/flotilla-hpc/flotilla/federation/structs"

// lacksFeature says why cluster c's agent cannot run job j, "" when it
// can: the first feature the job needs (structs.Job.NeedsFeatures) that
// the agent does not list, e.g. "cluster east's agent does not run jobs
// with an environment (--export): upgrade its agent (it runs v1.2.0)".
// An agent that never reported features is an older release and lists
// none. Without Input.AgentFeatures nothing is checked.
func (p *pass) lacksFeature(j *structs.Job, c *structs.Cluster) string {
	if !p.features {
		return ""
	}
	var buf [6]structs.AgentFeature
	for _, f := range j.AppendNeededFeatures(buf[:0]) {
		if !c.Agent.Has(f) { // the reason is built only when it is one
			return structs.AgentLacks(c, f, "run "+f.What())
		}
	}
	return ""
}
