package api

import (
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// redactReply is a reply as it may leave the hub at the time now gives:
// pull credentials of apps and jobs are never shown (an app shows the
// registries its credential names instead), nor the token hashes of a
// job's share links or the links expired by then, which the job keeps
// until the next create or revoke of its links writes them out
// (dropExpiredShares). Every reply passes here; the agents get
// credentials and hashes only in their assignments and catalog, which
// carry them in their own fields. now is read once, and only for a reply
// holding a job with share links.
func redactReply(v any, now func() time.Time) any {
	clock := replyClock{now: now}
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
		return clock.redact(o)
	case []*structs.Job:
		out := make([]*structs.Job, len(o))
		for i, j := range o {
			out[i] = clock.redact(j)
		}
		return out
	case *structs.JobList:
		c := *o
		c.Jobs = make([]*structs.Job, len(o.Jobs))
		for i, j := range o.Jobs {
			c.Jobs[i] = clock.redact(j)
		}
		return &c
	}
	return v
}

// replyClock reads the time of one reply once, when a job needs it.
type replyClock struct {
	now func() time.Time
	at  time.Time
	set bool
}

// redact is j.Redacted at the reply's time.
func (c *replyClock) redact(j *structs.Job) *structs.Job {
	if j == nil || len(j.Shares) == 0 {
		return j.Redacted(time.Time{}) // the time matters for share links only
	}
	if !c.set {
		c.at, c.set = c.now(), true
	}
	return j.Redacted(c.at)
}
