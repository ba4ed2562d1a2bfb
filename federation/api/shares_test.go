package api_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// interactiveOn makes job id RUNNING on cluster east with its address,
// east's agent listing features.
func (e *env) interactiveOn(id string, features ...structs.AgentFeature) {
	e.t.Helper()
	e.runningOn(id, features...)
	if _, err := e.c.Hub(0).Write(e.ctx(), &fsm.JobStateUpdate{ID: id, Cluster: "east", State: structs.JobRunning, Time: time.Now(),
		ConnectURL: "https://j9.jobs.example/lab?token=OWNERSECRET&flotilla_token=OWNERSECRET"}); err != nil {
		e.t.Fatal(err)
	}
}

// TestJobShares: the owner creates share links of a running interactive
// job (the token returned once, its URL the job's origin with the token
// for the guard, nothing of the owner's), lists them (never a token or
// hash) and revokes them; the administrator may too. The job as the API
// shows it carries no hash. Every refusal (not running, not interactive,
// not allowed, an agent without share links, bad name, label or expiry,
// a taken name, an unknown link, unknown fields) is a 4xx with the reason
// and changes nothing; audit events name the job and link, never the
// token.
func TestJobShares(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	key, bob, alice, submit := e.aliceAndBob()
	queued, batch, old, j := submit(), submit(), submit(), submit()
	e.interactiveOn(old.ID, structs.FeatureJobSignals) // east's agent is older: no job-shares
	post := func(id, k, body string) (int, string) {
		code, out := e.do("POST", "/v1/jobs/"+id+"/shares", k, []byte(body))
		return code, string(out)
	}
	if code, out := post(old.ID, key, `{}`); code != http.StatusBadRequest || !strings.Contains(out, "cluster east's agent does not write share links") {
		t.Errorf("old agent: %d %s, want 400 naming the cluster", code, out)
	}
	e.interactiveOn(j.ID, structs.FeatureJobShares)
	e.runningOn(batch.ID, structs.FeatureJobShares)
	taken := value[*structs.ShareCreated](t)(alice.CreateShare(ctx, j.ID, &structs.ShareCreateRequest{Name: "taken"}))

	before := e.index()
	for name, c := range map[string]struct {
		method, path, key, body, want string
		code                          int
	}{
		"not running":     {"POST", queued.ID, key, `{}`, "is QUEUED: only a running interactive job has share links", http.StatusConflict},
		"not interactive": {"POST", batch.ID, key, `{}`, "is not an interactive job", http.StatusBadRequest},
		"not allowed":     {"POST", j.ID, bob, `{}`, "", http.StatusForbidden},
		"no such job":     {"POST", "nope", key, `{}`, "", http.StatusNotFound},
		"bad name":        {"POST", j.ID, key, `{"name":"Bob's"}`, "share name", http.StatusBadRequest},
		"long label":      {"POST", j.ID, key, `{"label":"` + strings.Repeat("x", 201) + `"}`, "label", http.StatusBadRequest},
		"bad expiry":      {"POST", j.ID, key, `{"expires_in":"tomorrow"}`, "expires_in", http.StatusBadRequest},
		"negative expiry": {"POST", j.ID, key, `{"expires_in":"-1h"}`, "expires_in", http.StatusBadRequest},
		"name taken":      {"POST", j.ID, key, `{"name":"taken"}`, "already", http.StatusConflict},
		"unknown field":   {"POST", j.ID, key, `{"token":"mine"}`, "", http.StatusBadRequest},
		"revoke unknown":  {"DELETE", j.ID + "/shares/nobody", key, "", "no share link", http.StatusNotFound},
		"revoke by other": {"DELETE", j.ID + "/shares/taken", bob, "", "", http.StatusForbidden},
		"list by other":   {"GET", j.ID + "/shares", bob, "", "", http.StatusForbidden},
	} {
		path := "/v1/jobs/" + c.path
		if c.method == "POST" {
			path += "/shares"
		}
		var body []byte
		if c.body != "" {
			body = []byte(c.body)
		}
		code, out := e.do(c.method, path, c.key, body)
		if code != c.code || !strings.Contains(string(out), c.want) {
			t.Errorf("%s: %d %s, want %d %q", name, code, out, c.code, c.want)
		}
	}
	if e.index() != before {
		t.Error("a refused share call changed the state")
	}

	got := value[*structs.ShareCreated](t)(alice.CreateShare(ctx, j.ID, &structs.ShareCreateRequest{Label: "for Carol", ExpiresIn: "2h"}))
	if got.Name != "share-2" || got.Label != "for Carol" || got.By != "alice" || got.Expires == nil ||
		!strings.HasPrefix(got.Token, structs.ShareTokenPrefix) || len(got.Token) < 40 {
		t.Errorf("created %+v", got)
	}
	u, err := url.Parse(got.URL)
	if err != nil || u.Host != "j9.jobs.example" || u.Query().Get("flotilla_token") != got.Token || strings.Contains(got.URL, "OWNERSECRET") {
		t.Errorf("share URL %q: want the job's origin with the share's token only", got.URL)
	}
	// The hub keeps the hash only; the API shows neither.
	stored := value[*structs.Job](t)(e.c.Hub(0).Store().Read().Job(j.ID))
	if len(stored.Shares) != 2 || stored.Shares[1].TokenHash != structs.HashShareToken(got.Token) {
		t.Errorf("stored shares %+v", stored.Shares)
	}
	for _, path := range []string{"/v1/jobs/" + j.ID, "/v1/jobs/" + j.ID + "/shares", "/v1/jobs"} {
		_, out := e.do("GET", path, key, nil)
		if strings.Contains(string(out), got.Token) || strings.Contains(string(out), strings.TrimPrefix(structs.HashShareToken(got.Token), "sha256:")) {
			t.Errorf("GET %s shows the token or its hash: %s", path, out)
		}
	}
	list := value[[]structs.ShareInfo](t)(alice.ListShares(ctx, j.ID))
	if len(list) != 2 || list[0].Name != "taken" || list[1].Name != "share-2" {
		t.Errorf("list %+v", list)
	}
	// The administrator revokes one, alice the other.
	if left := value[[]structs.ShareInfo](t)(e.admin.RevokeShare(ctx, j.ID, "taken")); len(left) != 1 || left[0].Name != "share-2" {
		t.Errorf("after the admin's revoke: %+v", left)
	}
	if left := value[[]structs.ShareInfo](t)(alice.RevokeShare(ctx, j.ID, "share-2")); len(left) != 0 {
		t.Errorf("after alice's revoke: %+v", left)
	}
	events := value[[]*structs.AuditEvent](t)(e.admin.Audit(ctx, client.AuditQuery{}))
	seen := map[string]int{}
	for _, ev := range events {
		b, _ := json.Marshal(ev)
		if strings.Contains(string(b), got.Token) || strings.Contains(string(b), taken.Token) {
			t.Errorf("audit event carries a token: %s", b)
		}
		if strings.HasPrefix(ev.Action, "job.share.") && ev.Outcome == "ok" {
			seen[ev.Action+" "+ev.ObjectName]++
		}
	}
	for _, want := range []string{"job.share.create " + j.ID + "/share-2", "job.share.revoke " + j.ID + "/taken", "job.share.revoke " + j.ID + "/share-2"} {
		if seen[want] != 1 {
			t.Errorf("audit %q seen %d times; all: %v", want, seen[want], seen)
		}
	}
}

// TestExpiredShareLinks: an expired share link leaves the job when the
// API next writes its links, at the request's time (the hub's clock here
// moves by hand): it is not listed, it does not count toward the cap of
// 32 nor hold its name, the next create or revoke drops it from the
// stored job, and revoking it by name still answers 200.
func TestExpiredShareLinks(t *testing.T) {
	var skew atomic.Int64 // how far the hub's clock is ahead
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	e := newEnvWith(t, hubtest.Options{NoSync: true, Configure: func(_ int, cfg *hub.Config) { cfg.Now = now }})
	ctx := e.ctx()
	_, _, alice, submit := e.aliceAndBob()
	j := submit()
	e.interactiveOn(j.ID, structs.FeatureJobShares)
	create := func(name, expires string) (*structs.ShareCreated, error) {
		return alice.CreateShare(ctx, j.ID, &structs.ShareCreateRequest{Name: name, ExpiresIn: expires})
	}
	stored := func() []string {
		var names []string
		for _, s := range value[*structs.Job](t)(e.c.Hub(0).Store().Read().Job(j.ID)).Shares {
			names = append(names, s.Name)
		}
		return names
	}
	listed := func() []string {
		var names []string
		for _, s := range value[[]structs.ShareInfo](t)(alice.ListShares(ctx, j.ID)) {
			names = append(names, s.Name)
		}
		return names
	}
	// 32 links: three end in an hour, one in three hours, the rest never.
	var want []string
	for i := range structs.MaxJobShares {
		name, expires := fmt.Sprintf("l%02d", i), ""
		switch i {
		case 3, 10, 20:
			expires = "1h"
		case 5:
			expires = "3h"
		}
		value[*structs.ShareCreated](t)(create(name, expires))
		want = append(want, name)
	}
	if _, err := create("more", ""); !errors.Is(err, structs.ErrConflict) {
		t.Fatalf("a 33rd live link: %v, want a conflict", err)
	}

	skew.Store(int64(90 * time.Minute)) // l03, l10 and l20 expired
	live := slices.DeleteFunc(slices.Clone(want), func(n string) bool { return n == "l03" || n == "l10" || n == "l20" })
	if diff := cmp.Diff(live, listed()); diff != "" {
		t.Errorf("listed after the expiry (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, stored()); diff != "" {
		t.Errorf("a list wrote the job (-want +got):\n%s", diff)
	}
	// The cap counts live links only: two more fit, and a taken name of
	// an expired link is free. The first create drops all three.
	value[*structs.ShareCreated](t)(create("l03", "")) // the expired l03's name
	live = append(live, "l03")
	if diff := cmp.Diff(live, stored()); diff != "" {
		t.Errorf("stored after a create (-want +got):\n%s", diff)
	}
	got := value[*structs.ShareCreated](t)(create("", ""))
	if got.Name != "share-31" {
		t.Errorf("default name %q, want share-31 (30 live links before it)", got.Name)
	}
	value[*structs.ShareCreated](t)(create("last", ""))
	live = append(live, "share-31", "last")
	if _, err := create("over", ""); !errors.Is(err, structs.ErrConflict) {
		t.Errorf("a 33rd live link after the expiry: %v, want a conflict", err)
	}

	// A revoke drops the expired links too; revoking an expired link
	// by name removes it and answers 200 with the live ones.
	skew.Store(int64(4 * time.Hour)) // l05 expired
	live = slices.DeleteFunc(live, func(n string) bool { return n == "l05" })
	left := value[[]structs.ShareInfo](t)(alice.RevokeShare(ctx, j.ID, "l05"))
	if len(left) != len(live) || slices.ContainsFunc(left, func(s structs.ShareInfo) bool { return s.Name == "l05" }) {
		t.Errorf("revoking the expired l05 left %d links (want %d, without l05): %+v", len(left), len(live), left)
	}
	if diff := cmp.Diff(live, stored()); diff != "" {
		t.Errorf("stored after revoking an expired link (-want +got):\n%s", diff)
	}
	value[*structs.ShareCreated](t)(create("l05b", "1h"))
	skew.Store(int64(6 * time.Hour)) // l05b expired
	left = value[[]structs.ShareInfo](t)(alice.RevokeShare(ctx, j.ID, "l00"))
	live = slices.DeleteFunc(live, func(n string) bool { return n == "l00" })
	if diff := cmp.Diff(live, stored()); diff != "" {
		t.Errorf("stored after revoking l00 with l05b expired (-want +got):\n%s", diff)
	}
	if len(left) != len(live) {
		t.Errorf("revoke answered %d links, want %d", len(left), len(live))
	}
}

// TestExpiredShareLinksLeaveReads: a job read after one of its share
// links expired — GET /v1/jobs/{id}, the job list, the Go client's reads
// the CLI and the portal make — shows the live links only, at the hub's
// clock (moved by hand here), while the stored job keeps the expired link
// until the next create or revoke: a read writes nothing.
func TestExpiredShareLinksLeaveReads(t *testing.T) {
	var skew atomic.Int64 // how far the hub's clock is ahead
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	e := newEnvWith(t, hubtest.Options{NoSync: true, Configure: func(_ int, cfg *hub.Config) { cfg.Now = now }})
	ctx := e.ctx()
	key, _, alice, submit := e.aliceAndBob()
	j := submit()
	e.interactiveOn(j.ID, structs.FeatureJobShares)
	for name, expires := range map[string]string{"hour": "1h", "day": "24h", "always": ""} {
		value[*structs.ShareCreated](t)(alice.CreateShare(ctx, j.ID, &structs.ShareCreateRequest{Name: name, ExpiresIn: expires}))
	}
	names := func(list []structs.JobShare) []string {
		var out []string
		for _, s := range list {
			if s.TokenHash != "" {
				t.Errorf("link %s shown with its hash", s.Name)
			}
			out = append(out, s.Name)
		}
		slices.Sort(out)
		return out
	}
	reads := map[string]func() []structs.JobShare{
		"GET /v1/jobs/{id}": func() []structs.JobShare {
			code, out := e.do("GET", "/v1/jobs/"+j.ID, key, nil)
			var got structs.Job
			if err := json.Unmarshal(out, &got); code != http.StatusOK || err != nil {
				t.Fatalf("GET job: %d %s %v", code, out, err)
			}
			return got.Shares
		},
		"GET /v1/jobs": func() []structs.JobShare {
			code, out := e.do("GET", "/v1/jobs", key, nil)
			var got structs.JobList
			if err := json.Unmarshal(out, &got); code != http.StatusOK || err != nil || len(got.Jobs) != 1 {
				t.Fatalf("GET jobs: %d %s %v", code, out, err)
			}
			return got.Jobs[0].Shares
		},
		"client GetJob": func() []structs.JobShare {
			return value[*structs.Job](t)(alice.GetJob(ctx, j.ID, false)).Shares
		},
		"client GetJob consistent": func() []structs.JobShare {
			return value[*structs.Job](t)(alice.GetJob(ctx, j.ID, true)).Shares
		},
		"client ListJobs": func() []structs.JobShare {
			list := value[*structs.JobList](t)(alice.ListJobs(ctx, client.JobQuery{}))
			if len(list.Jobs) != 1 {
				t.Fatalf("listed %d jobs", len(list.Jobs))
			}
			return list.Jobs[0].Shares
		},
	}
	for _, step := range []struct {
		skew time.Duration
		want []string
	}{
		{0, []string{"always", "day", "hour"}},
		{90 * time.Minute, []string{"always", "day"}},
		{25 * time.Hour, []string{"always"}},
	} {
		skew.Store(int64(step.skew))
		jobsAt := func() uint64 { return e.c.Hub(0).Store().Read().Index(state.TableJobs) }
		before := jobsAt()
		for name, read := range reads {
			if diff := cmp.Diff(step.want, names(read())); diff != "" {
				t.Errorf("%s at +%s (-want +got):\n%s", name, step.skew, diff)
			}
		}
		if jobsAt() != before {
			t.Errorf("reads at +%s wrote the jobs", step.skew)
		}
	}
	stored := value[*structs.Job](t)(e.c.Hub(0).Store().Read().Job(j.ID))
	if diff := cmp.Diff([]string{"always", "day", "hour"}, names(stored.Redacted(time.Time{}).Shares)); diff != "" {
		t.Errorf("the stored job's links changed without a create or revoke (-want +got):\n%s", diff)
	}
}
