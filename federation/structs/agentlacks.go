package structs

// AgentLacks says why cluster c's agent cannot do something a job needs,
// "" when it can: c's agent does not list feature f. does is what it
// would do, e.g. "run jobs with an environment (--export)", making
// "cluster east's agent does not run jobs with an environment
// (--export): upgrade its agent (it runs v1.2.0)". An agent that never
// reported features is an older release and lists none. Placement and the
// API's checks (signals) share it, so both say it alike.
func AgentLacks(c *Cluster, f AgentFeature, does string) string {
	if c.Agent.Has(f) {
		return ""
	}
	why := "cluster " + c.Name + "'s agent does not " + does + ": upgrade its agent"
	switch {
	case c.Agent == nil:
		why += " (it reports no features: a release older than feature reports)"
	case c.Agent.Version != "":
		why += " (it runs " + c.Agent.Version + ")"
	}
	return why
}
