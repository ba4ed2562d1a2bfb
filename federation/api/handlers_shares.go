package api

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/url"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/jobs"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Share links of interactive jobs (structs.JobShare): the owner and the
// administrators who may cancel the job create (POST /v1/jobs/{id}/shares,
// the token returned once), list (GET, never a token) and revoke (DELETE
// /v1/jobs/{id}/shares/{name}) them. The hub keeps only token hashes, in
// the job (raft command JobShares); the job's agent writes them into the
// job's shares Secret. Audit events name the job and the link, never the
// token. See jobs.ShareCreate for the refusals; a refused call changes
// nothing. A create or revoke first drops the job's links expired at the
// request's time (jobs.ShareExpired); lists show live links only.

// shareTarget is a job and its cluster, read together.
type shareTarget struct {
	job     *structs.Job
	cluster *structs.Cluster
}

// readShareTarget reads job id and its cluster; a job this replica has
// not seen running yet is read again on a linearizable view.
func (s *Server) readShareTarget(c *call, id string) (shareTarget, error) {
	read := func(r *state.ReadTxn) (shareTarget, error) {
		j, err := r.Job(id)
		if err != nil {
			return shareTarget{}, err
		}
		cl, err := optional(r.Cluster(j.Cluster))
		return shareTarget{j, cl}, err
	}
	t, err := fresh(c, read)
	if err == nil && t.job.State != structs.JobRunning {
		t, err = current(c, read)
	}
	if err == nil {
		c.object = t.job.ID
	}
	return t, err
}

// createShare is POST /v1/jobs/{id}/shares.
func (s *Server) createShare(c *call) (any, error) {
	var req structs.ShareCreateRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	t, err := s.readShareTarget(c, c.r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	token, now := newShareToken(), s.now()
	cmd, err := jobs.ShareCreate(c.id, t.job, t.cluster, &req, token, now)
	if err != nil {
		return nil, err
	}
	c.object = t.job.ID + "/" + cmd.Create.Name
	if err := s.dropExpiredShares(c, t.job, now, ""); err != nil {
		return nil, err
	}
	j, err := s.writeJob(c, cmd)
	if err != nil {
		return nil, err
	}
	return &structs.ShareCreated{ShareInfo: cmd.Create.Info(), Token: token, URL: shareURL(j.ConnectURL, token)}, nil
}

// listShares is GET /v1/jobs/{id}/shares.
func (s *Server) listShares(c *call) (any, error) {
	t, err := s.readShareTarget(c, c.r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return jobs.ShareList(c.id, t.job, s.now())
}

// revokeShare is DELETE /v1/jobs/{id}/shares/{name}.
func (s *Server) revokeShare(c *call) (any, error) {
	id, name := c.r.PathValue("id"), c.r.PathValue("name")
	read := func(r *state.ReadTxn) (*structs.Job, error) { return r.Job(id) }
	j, err := current(c, read)
	if err != nil {
		return nil, err
	}
	c.object = j.ID + "/" + name
	now := s.now()
	cmd, err := jobs.ShareRevoke(c.id, j, name, now)
	if err != nil {
		return nil, err
	}
	if err := s.dropExpiredShares(c, j, now, name); err != nil {
		return nil, err
	}
	out, err := s.writeJob(c, cmd)
	if err != nil {
		return nil, err
	}
	return jobs.ShareList(c.id, out, now)
}

// dropExpiredShares writes the revokes of job j's share links expired at
// now but keep (jobs.ShareExpired), before a create or revoke writes its
// own change: expired links neither hold a name nor count toward the
// cap. A link a concurrent call dropped first is no error.
func (s *Server) dropExpiredShares(c *call, j *structs.Job, now time.Time, keep string) error {
	for _, cmd := range jobs.ShareExpired(j, now, keep) {
		if _, err := s.writeJob(c, cmd); err != nil && !errors.Is(err, structs.ErrNotFound) {
			return err
		}
	}
	return nil
}

// newShareToken is a fresh share token: the prefix and 32 random bytes.
func newShareToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return structs.ShareTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// shareGuardQuery is the query parameter the job's token guard trades for
// its cookie (clusteragent/runtime/initproc.GuardQuery).
const shareGuardQuery = "flotilla_token"

// shareURL is the origin of the job's address with token as the guard's
// parameter: nothing else of the job's URL, which may carry the job's own
// token elsewhere (an app's URL template). "" when the job has no address.
func shareURL(connect, token string) string {
	u, err := url.Parse(connect)
	if connect == "" || err != nil || u.Host == "" {
		return ""
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/", RawQuery: shareGuardQuery + "=" + url.QueryEscape(token)}).String()
}
