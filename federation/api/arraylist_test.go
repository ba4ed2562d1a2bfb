package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestArrayListSubmit: an index list submitted through REST as a string
// or as the object with ranges, and through JARVICE's flotilla_array, is
// stored in canonical form; bad lists get 400 and store nothing; a
// task cancel or output request for an index outside the list is refused.
func TestArrayListSubmit(t *testing.T) {
	e := newEnv(t)
	key := seedSmall(e)
	const want = "1,3,7-9%2"
	var id string
	for name, c := range map[string]struct{ path, body string }{
		"string": {"/v1/jobs", `{"app":"pub","machine_type":"n1","nodes":1,"array":"9,8,7,3,1%2"}`},
		"object": {"/v1/jobs", `{"app":"pub","machine_type":"n1","nodes":1,"array":{"ranges":[{"start":7,"end":9},{"start":1,"end":3,"step":2}],"max_running":2}}`},
		"jarvice": {"/jarvice/submit", `{"app":"pub","application":{"command":"Run"},"machine":{"type":"n1","nodes":1},` +
			`"user":{"username":"alice","apikey":"` + key + `"},"flotilla_array":{"array":"1,3,7-9%2"}}`},
	} {
		code, out := e.do("POST", c.path, key, []byte(c.body))
		if code != http.StatusOK && code != http.StatusCreated {
			t.Fatalf("%s: %d %s", name, code, out)
		}
		var j struct {
			ID     string            `json:"id"`
			Number uint64            `json:"number"`
			Array  *structs.ArrayJob `json:"array"`
		}
		if err := json.Unmarshal(out, &j); err != nil {
			t.Fatal(err)
		}
		if name == "jarvice" {
			continue // the reply names the job by number only
		}
		if j.Array == nil || j.Array.Spec.String() != want || !j.Array.Spec.IsList() || j.Array.Spec.Count() != 5 {
			t.Errorf("%s: stored %+v", name, j.Array)
		}
		id = j.ID
	}
	code, out := e.do("GET", "/v1/jobs?limit=10", key, nil)
	var l structs.JobList
	if code != http.StatusOK || json.Unmarshal(out, &l) != nil || len(l.Jobs) != 3 {
		t.Fatalf("list: %d %s", code, out)
	}
	for _, j := range l.Jobs {
		if j.Array == nil || j.Array.Spec.String() != want {
			t.Errorf("job %d: array %+v", j.Number, j.Array)
		}
	}

	before := e.index()
	for name, body := range map[string]string{
		"empty part":      `{"app":"pub","machine_type":"n1","nodes":1,"array":"1,,3"}`,
		"max not at end":  `{"app":"pub","machine_type":"n1","nodes":1,"array":"1%2,3"}`,
		"empty ranges":    `{"app":"pub","machine_type":"n1","nodes":1,"array":{"ranges":[]}}`,
		"wrong start":     `{"app":"pub","machine_type":"n1","nodes":1,"array":{"start":0,"ranges":[{"start":1,"end":1},{"start":3,"end":3}]}}`,
		"unknown in ange": `{"app":"pub","machine_type":"n1","nodes":1,"array":{"ranges":[{"start":1,"end":1,"every":2},{"start":3,"end":3}]}}`,
		"too many tasks":  `{"app":"pub","machine_type":"n1","nodes":1,"array":"0-600000,700000-1200000"}`,
		"index too high":  `{"app":"pub","machine_type":"n1","nodes":1,"array":"1,100000001"}`,
	} {
		if code, out := e.do("POST", "/v1/jobs", key, []byte(body)); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", name, code, out)
		}
	}
	if code, out := e.do("POST", "/v1/jobs/"+id+"/tasks/cancel", key, []byte(`{"tasks":"3,5"}`)); code != http.StatusBadRequest {
		t.Errorf("cancel of task 5, not in the list: %d %s, want 400", code, out)
	}
	if code, out := e.do("GET", "/v1/jobs/"+id+"/tasks/2/output?wait=1ms", key, nil); code != http.StatusNotFound {
		t.Errorf("output of task 2, not in the list: %d %s, want 404", code, out)
	}
	if e.index() != before {
		t.Error("a refused request changed the state")
	}
	if code, out := e.do("POST", "/v1/jobs/"+id+"/tasks/cancel", key, []byte(`{"tasks":"3,8"}`)); code != http.StatusOK {
		t.Errorf("cancel of tasks 3 and 8: %d %s", code, out)
	}
}
