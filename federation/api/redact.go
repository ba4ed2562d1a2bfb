package api

import "github.com/flotilla-hpc/flotilla/federation/structs"

// redactReply is a reply as it may leave the hub: pull credentials of
// apps and jobs are never shown (an app shows the registries its
// credential names instead). Every reply passes here; the agents get
// credentials only in their assignments and catalog, which carry them in
// their own fields.
func redactReply(v any) any {
	switch o := v.(type) {
	case *structs.App:
		return o.Redacted()
	case []*structs.App:
		out := make([]*structs.App, len(o))
		for i, a := range o {
			out[i] = a.Redacted()
		}
		return out
	case *appReply:
		return &appReply{App: o.App.Redacted(), Warnings: o.Warnings}
	case *structs.Job:
		return o.Redacted()
	case []*structs.Job:
		out := make([]*structs.Job, len(o))
		for i, j := range o {
			out[i] = j.Redacted()
		}
		return out
	case *structs.JobList:
		c := *o
		c.Jobs = make([]*structs.Job, len(o.Jobs))
		for i, j := range o.Jobs {
			c.Jobs[i] = j.Redacted()
		}
		return &c
	}
	return v
}
