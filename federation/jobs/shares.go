package jobs

import (
	"slices"
	"strconv"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// MaxShareLifetime bounds a share link's expires_in.
const MaxShareLifetime = 366 * 24 * time.Hour

// Expired share links leave the job when the API next writes its list:
// a create or revoke first drops the links expired at the request's time
// (ShareExpired: one JobShares revoke each, the command's meaning
// unchanged), and only live links count toward structs.MaxJobShares, hold
// a name, or are listed. The decision is the request's, at its time, so
// every replica applies the same revokes whatever its clock.

// ShareCreate decides whether caller may create the share link req asks
// for on job j at now, j running on cluster c (nil when the hub no longer
// has it), with token (made by the caller's replica, never stored: the
// command carries its hash), and returns the command that records it. It
// sees j's links live at now only: the caller writes ShareExpired(j, now)
// before the command.
// Callers who may cancel the job may share it (its owner, its team's and
// tenant's administrators, system administrators); the job must be
// RUNNING (ErrConflict) and interactive, i.e. have reported its address
// (ErrInvalid); the name a share name, unused on the job (default
// share-N, the first unused N); the label at most structs.MaxShareLabel
// bytes; expires_in a positive duration up to MaxShareLifetime; and c's
// agent must write share links (structs.FeatureJobShares), else
// ErrInvalid naming the cluster.
func ShareCreate(caller *authz.Identity, j *structs.Job, c *structs.Cluster, req *structs.ShareCreateRequest, token string, now time.Time) (*fsm.JobShares, error) {
	if err := caller.CheckControlJob(j); err != nil {
		return nil, err
	}
	now = now.UTC()
	live := liveShares(j.Shares, now)
	name := req.Name
	if name == "" {
		for n := len(live) + 1; ; n++ {
			name = "share-" + strconv.Itoa(n)
			if !slices.ContainsFunc(live, func(s structs.JobShare) bool { return s.Name == name }) {
				break
			}
		}
	}
	if err := structs.ValidShareName(name); err != nil {
		return nil, err
	}
	if len(req.Label) > structs.MaxShareLabel {
		return nil, structs.Errorf(structs.ErrInvalid, "label: at most %d bytes", structs.MaxShareLabel)
	}
	share := &structs.JobShare{Name: name, Label: req.Label, TokenHash: structs.HashShareToken(token), By: caller.Subject(), Created: now}
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 || d > MaxShareLifetime {
			return nil, structs.Errorf(structs.ErrInvalid, "expires_in %q: want a positive duration up to %s, such as 2h or 30m", req.ExpiresIn, MaxShareLifetime)
		}
		exp := now.Add(d)
		share.Expires = &exp
	}
	if j.State != structs.JobRunning {
		return nil, structs.Errorf(structs.ErrConflict, "job %q is %s: only a running interactive job has share links", j.ID, j.State)
	}
	if j.ConnectURL == "" {
		return nil, structs.Errorf(structs.ErrInvalid, "job %q is not an interactive job (it has no address to share)", j.ID)
	}
	if slices.ContainsFunc(live, func(s structs.JobShare) bool { return s.Name == name }) {
		return nil, structs.Errorf(structs.ErrConflict, "job %q has a share link %q already", j.ID, name)
	}
	if len(live) >= structs.MaxJobShares {
		return nil, structs.Errorf(structs.ErrConflict, "job %q has %d share links, the most it may have: revoke one first", j.ID, structs.MaxJobShares)
	}
	if c == nil {
		return nil, structs.Errorf(structs.ErrConflict, "job %q: its cluster %q is gone", j.ID, j.Cluster)
	}
	if why := structs.AgentLacks(c, structs.FeatureJobShares, "write share links"); why != "" {
		return nil, structs.Errorf(structs.ErrInvalid, "%s", why)
	}
	return &fsm.JobShares{ID: j.ID, Create: share, Time: now}, nil
}

// ShareRevoke decides whether caller may revoke job j's share link name
// at now (the callers of ShareCreate; ErrNotFound when j has no such
// link) and returns the command that removes it. A link that expired but
// is still on the job is revoked like a live one (the caller meant it
// gone, and it is); the caller drops the other expired links too
// (ShareExpired).
func ShareRevoke(caller *authz.Identity, j *structs.Job, name string, now time.Time) (*fsm.JobShares, error) {
	if err := caller.CheckControlJob(j); err != nil {
		return nil, err
	}
	if err := structs.ValidShareName(name); err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(j.Shares, func(s structs.JobShare) bool { return s.Name == name }) {
		return nil, structs.Errorf(structs.ErrNotFound, "job %q has no share link %q", j.ID, name)
	}
	return &fsm.JobShares{ID: j.ID, Revoke: name, Time: now.UTC()}, nil
}

// ShareList returns job j's share links live at now for caller (the
// callers of ShareCreate): names, labels, creators and expiry, never a
// token or hash. Expired links are left out, also those still on the job.
func ShareList(caller *authz.Identity, j *structs.Job, now time.Time) ([]structs.ShareInfo, error) {
	if err := caller.CheckControlJob(j); err != nil {
		return nil, err
	}
	out := make([]structs.ShareInfo, 0, len(j.Shares))
	for i := range j.Shares {
		if j.Shares[i].Live(now) {
			out = append(out, j.Shares[i].Info())
		}
	}
	return out, nil
}

// ShareExpired returns the commands that drop job j's share links expired
// at now, except the one named keep (a revoke's own link), in the job's
// order: one JobShares revoke each, stamped now. None when every link is
// live.
func ShareExpired(j *structs.Job, now time.Time, keep string) []*fsm.JobShares {
	var out []*fsm.JobShares
	for i := range j.Shares {
		if s := &j.Shares[i]; !s.Live(now) && s.Name != keep {
			out = append(out, &fsm.JobShares{ID: j.ID, Revoke: s.Name, Time: now.UTC()})
		}
	}
	return out
}

// liveShares is list without the links expired at now.
func liveShares(list []structs.JobShare, now time.Time) []structs.JobShare {
	return slices.DeleteFunc(slices.Clone(list), func(s structs.JobShare) bool { return !s.Live(now) })
}
