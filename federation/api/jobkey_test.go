package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestJobScopedAPIKey: an assignment carries a key scoped to its job (the
// AppDef's %APIKEY%) and the API URL; the key authenticates the job's
// owner on the JARVICE API while the job runs, not another user, not the
// v1 API, and not once the job ended; a forged key fails.
func TestJobScopedAPIKey(t *testing.T) {
	e := newAgentEnv(t)
	j := e.submit(structs.JobSubmitRequest{}, "east")
	l := e.list(client.AssignmentQuery{})
	if len(l.Assignments) != 1 {
		t.Fatalf("%d assignments", len(l.Assignments))
	}
	a := l.Assignments[0]
	if !strings.HasPrefix(a.APIKey, "flj_") || !strings.HasPrefix(a.APIURL, "http") {
		t.Fatalf("assignment key %q url %q", a.APIKey, a.APIURL)
	}
	status := func(user, key string) int {
		code, _, _ := e.jarviceCall("get", "status", url.Values{"username": {user}, "apikey": {key}, "name": {j.Name}})
		return code
	}
	if code := status("alice", a.APIKey); code != http.StatusOK {
		t.Errorf("owner with the job key: %d, want 200", code)
	}
	for name, key := range map[string]string{
		"forged mac":   a.APIKey[:len(a.APIKey)-2] + "00",
		"other number": strings.Replace(a.APIKey, "flj_", "flj_9", 1),
	} {
		if code := status("alice", key); code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
	if code := status("admin", a.APIKey); code != http.StatusUnauthorized {
		t.Errorf("another user with the job key: %d, want 401", code)
	}
	if code, _ := e.do("GET", "/v1/jobs", a.APIKey, nil); code != http.StatusUnauthorized {
		t.Errorf("v1 API with the job key: %d, want 401", code)
	}
	e.must(e.alice.CancelJob(e.ctx(), j.ID, ""))
	if code := status("alice", a.APIKey); code != http.StatusUnauthorized {
		t.Errorf("job key after the job ended: %d, want 401", code)
	}
}
