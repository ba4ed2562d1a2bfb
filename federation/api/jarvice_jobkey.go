package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// JobKeyPrefix starts a job-scoped API key: what an AppDef's %APIKEY%
// becomes. It is "flj_<job number>_<mac>", the MAC an HMAC-SHA256 of the
// job's id under the replicas' internal secret, so every replica checks it
// without storing it. It authenticates the job's owner on the JARVICE API
// only, and only while the job has not ended.
const JobKeyPrefix = "flj_"

// jobKey is job j's key; "" when the hub has no internal secret.
func (s *Server) jobKey(j *structs.Job) string {
	if len(s.secret) == 0 {
		return ""
	}
	return JobKeyPrefix + strconv.FormatUint(j.Number, 10) + "_" + s.jobMAC(j)
}

func (s *Server) jobMAC(j *structs.Job) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("flotilla job key\x00" + j.ID + "\x00" + j.Owner))
	return hex.EncodeToString(m.Sum(nil)[:20])
}

// jobKeyIdentity authenticates username with a job-scoped key.
func (s *Server) jobKeyIdentity(username, key string) (*authz.Identity, error) {
	bad := structs.Errorf(structs.ErrUnauthorized, "invalid api key")
	num, mac, ok := strings.Cut(strings.TrimPrefix(key, JobKeyPrefix), "_")
	n, err := strconv.ParseUint(num, 10, 64)
	if !ok || err != nil || len(s.secret) == 0 {
		return nil, bad
	}
	j, err := s.reads.Store().Read().JobByNumber(n)
	if err != nil || j.Owner != username || j.State.IsTerminal() ||
		!hmac.Equal([]byte(mac), []byte(s.jobMAC(j))) {
		return nil, bad
	}
	return s.authn.UserIdentity(username)
}

// withJobKeys gives each resolved assignment its job's key and the API URL
// the agent reached, for %APIKEY% and %APIURL%.
func (c *call) withJobKeys(list *structs.AssignmentList) {
	scheme := "https"
	if c.r.TLS == nil {
		scheme = "http"
	}
	for _, a := range list.Assignments {
		if a.Command != nil && a.Job != nil {
			a.APIKey, a.APIURL = c.s.jobKey(a.Job), scheme+"://"+c.r.Host+"/"
		}
	}
}
