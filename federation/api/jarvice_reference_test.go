package api_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestJarviceReferenceArguments replays arguments of the reference
// (the public API documentation and python-jarviceapi's OpenAPI document)
// that Flotilla read otherwise once: /jarvice/live's reply, the vault
// listing's required path and its details and sort, queues' info, and
// billing's filters (reportuser a comma-separated list, jobapp, zone,
// the statuses it knows, billingcode and itemized) and its rows (a job
// once, though accounted at its end and still held), a job number that
// is no number (400, where an unknown name is 404), and teamusers' list
// (the team's users other than the caller).
func TestJarviceReferenceArguments(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	alice := seedSmall(e)
	a := e.admin
	e.must(a.PutCluster(ctx, "west", &structs.ClusterSpec{Zone: "z2"}))
	mt := machineType("n2")
	mt.Cluster = "west"
	e.must(a.PutMachineType(ctx, mt))
	e.must(a.PutApp(ctx, &structs.App{Name: "other", Visibility: structs.VisibilityPublic,
		AppDef: structs.AppDef{Name: "Other", Commands: map[string]structs.Command{"Run": {Path: "/run"}}}}))
	e.must(a.PutUser(ctx, "bob", &structs.UserSpec{Tenant: "ta", Role: structs.RoleUser}))
	bob := value[*structs.APIKeyCreated](t)(a.CreateAPIKey(ctx, "bob", "")).Key
	e.must(a.PutVault(ctx, vault("ta", "va")))
	e.must(a.PutUser(ctx, "lead", &structs.UserSpec{Tenant: "ta", Role: structs.RoleTeamAdmin}))
	e.must(a.PutTeam(ctx, &structs.Team{Tenant: "ta", Name: "t1", Members: []string{"alice", "lead"}, Admins: []string{"lead"}}))
	lead := value[*structs.APIKeyCreated](t)(a.CreateAPIKey(ctx, "lead", "")).Key
	ended := func(key, app, machine, cluster string) *structs.Job {
		j := value[*structs.Job](t)(e.client(key).SubmitJob(ctx, structs.JobSubmitRequest{App: app, MachineType: machine, Nodes: 1}))
		if _, err := e.c.Hub(0).Write(ctx, &fsm.JobAssignment{ID: j.ID, Cluster: cluster, Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
		e.must(e.client(key).TerminateJob(ctx, j.ID, ""))
		return j
	}
	aj, bj := ended(alice, "pub", "n1", "east"), ended(bob, "other", "n2", "west")
	admin := url.Values{"username": {hubAdmin(e)}, "apikey": {e.keys["global"]}}
	with := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = slices.Clone(vs)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	billed := func(form string, kv ...string) []string {
		t.Helper()
		code, _, body := e.jarviceCall(form, "billing", with(admin, kv...))
		rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if code != 200 || err != nil || len(rows) == 0 {
			t.Fatalf("billing %v: %d %v %s", kv, code, err, body)
		}
		var nums []string
		for _, r := range rows[1:] {
			nums = append(nums, r[0])
		}
		return nums
	}
	both := []string{fmt.Sprint(aj.Number), fmt.Sprint(bj.Number)}
	for _, form := range []string{"get", "form", "json"} {
		for name, c := range map[string]struct {
			kv   []string
			want []string
		}{
			"reportuser list": {[]string{"reportuser", "alice,bob"}, both},
			"reportuser one":  {[]string{"reportuser", "bob"}, both[1:]},
			"jobapp":          {[]string{"jobapp", "other"}, both[1:]},
			"zone":            {[]string{"zone", "z2"}, both[1:]},
			"no zone":         {[]string{"zone", "z9"}, nil},
			"statuses":        {[]string{"statuses", "CANCELED, COMPLETED"}, both},
			"itemized":        {[]string{"itemized", "true", "machtypes", "n1"}, both[:1]},
		} {
			if got := billed(form, c.kv...); !slices.Equal(got, c.want) {
				t.Errorf("billing %s/%s: jobs %v, want %v", name, form, got, c.want)
			}
		}
	}

	for name, c := range map[string]struct {
		endpoint string
		args     url.Values
		code     int
		want     string
	}{
		"billing unknown status": {"billing", with(admin, "statuses", "TERMINATED,DONE"), 400, `\"DONE\" is not one of COMPLETED`},
		"billing billingcode":    {"billing", with(admin, "billingcode", "7"), 400, "no billing codes"},
		"billing bad itemized":   {"billing", with(admin, "itemized", "perhaps"), 400, "itemized"},
		"vault without path":     {"vault", url.Values{"username": {"alice"}, "apikey": {alice}, "vault": {"va"}}, 400, "path are required"},
		"vault bad details":      {"vault", url.Values{"username": {"alice"}, "apikey": {alice}, "vault": {"va"}, "path": {"/"}, "details": {"yes please"}}, 400, "details"},
		"vault bad sort":         {"vault", url.Values{"username": {"alice"}, "apikey": {alice}, "vault": {"va"}, "path": {"/"}, "sort": {"x"}}, 400, `sort \"x\"`},
		"vault sorted":           {"vault", url.Values{"username": {"alice"}, "apikey": {alice}, "vault": {"va"}, "path": {"/"}, "details": {"true"}, "sort": {"M"}}, 200, "[]"},
		"queues bad info":        {"queues", url.Values{"username": {"alice"}, "apikey": {alice}, "info": {"lots"}}, 400, "info"},
		"queues info 1":          {"queues", url.Values{"username": {"alice"}, "apikey": {alice}, "info": {"1"}}, 200, "{}"},
		"live":                   {"live", url.Values{}, 200, `{"status":"OK"}`},
		"teamusers not self":     {"teamusers", url.Values{"username": {"lead"}, "apikey": {lead}}, 200, `{"alice":{`},
		"status number not one":  {"status", url.Values{"username": {"alice"}, "apikey": {alice}, "number": {"12a"}}, 400, "whole number"},
		"status unknown name":    {"status", url.Values{"username": {"alice"}, "apikey": {alice}, "name": {"alice-x"}}, 404, ""},
	} {
		for _, form := range []string{"get", "form", "json"} {
			code, _, body := e.jarviceCall(form, c.endpoint, c.args)
			if code != c.code || !strings.Contains(string(body), c.want) || (code >= 400) != strings.Contains(string(body), `"error"`) {
				t.Errorf("%s/%s: %d %s, want %d with %q", name, form, code, body, c.code, c.want)
			}
		}
	}
	if _, _, body := e.jarviceCall("get", "teamusers", url.Values{"username": {"lead"}, "apikey": {lead}}); strings.Contains(string(body), `"lead"`) {
		t.Errorf("teamusers %s: lists the caller", body)
	}
	if code, _ := e.do("GET", "/jarvice/live", "", nil); code != http.StatusOK {
		t.Errorf("live: %d", code)
	}
}
