package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// scrape reads a /metrics endpoint with the Prometheus text parser.
func scrape(ctx context.Context, t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// sample is the value of a series (a histogram's count) whose labels
// include want; ok is false when no series matches.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	var sum float64
	found := false
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, found
}

// TestMetrics scrapes /metrics of a hub replica and of two agents with the
// Prometheus text parser before and after the test submits jobs, one of
// which a burst rule sends to another cluster and one of which a limit
// holds: every series is present and moves.
func TestMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	f := startFed(t, 1, map[string][]k8senv.NodeSpec{"east": nodes("east", 1, "16"), "west": nodes("west", 2, "16")})
	f.addCluster(ctx, "east", nil)
	f.addCluster(ctx, "west", nil)
	adm := f.admin
	if _, err := adm.PutTenant(ctx, &structs.Tenant{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	for _, mt := range []*structs.MachineType{
		{Name: "cpu-east", Cores: 16, Slots: 16, RAM: 32, Cluster: "east", ScaleMax: 4},
		{Name: "cpu-west", Cores: 16, Slots: 16, RAM: 32, Cluster: "west", ScaleMax: 4},
	} {
		if _, err := adm.PutMachineType(ctx, mt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := adm.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic, Image: "solver:1",
		AppDef: structs.AppDef{Name: "solver", Commands: map[string]structs.Command{"run": {Path: "/opt/run.sh", Name: "Run"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutBurstRule(ctx, &structs.BurstRule{Name: "east-to-west", From: "cpu-east", To: []string{"cpu-west"},
		After: structs.Duration(time.Second)}); err != nil {
		t.Fatal(err)
	}
	alice := f.userClient(ctx, "alice", "acme")
	bob := f.userClient(ctx, "bob", "acme")
	if _, err := adm.PutLimit(ctx, &structs.Limit{Name: "bob-one-west", Scope: structs.ScopeUser, Tenant: "acme", User: "bob",
		Kind: structs.LimitConcurrentJobs, MachineType: "cpu-west", Value: 1}); err != nil {
		t.Fatal(err)
	}
	hubURL := f.hubs.URLs()[f.live()] + "/metrics"
	before := scrape(ctx, t, hubURL)
	agentsBefore := map[string]map[string]*dto.MetricFamily{}
	for name, u := range f.metrics {
		agentsBefore[name] = scrape(ctx, t, u)
	}

	filler := submit(ctx, t, alice, "solver", "cpu-east", 1)
	waitJob(ctx, t, alice, filler.ID, "running on east", running)
	burst := submit(ctx, t, alice, "solver", "cpu-east", 1)
	if j := waitJob(ctx, t, alice, burst.ID, "running in west by the rule", running); j.BurstRule != "east-to-west" {
		t.Fatalf("burst job: rule %q on %q", j.BurstRule, j.Cluster)
	}
	b1 := submit(ctx, t, bob, "solver", "cpu-west", 1)
	waitJob(ctx, t, bob, b1.ID, "running", running)
	b2 := submit(ctx, t, bob, "solver", "cpu-west", 1)
	waitJob(ctx, t, bob, b2.ID, "held", func(j *structs.Job) bool { return j.State == structs.JobHeld })

	type series struct {
		name   string
		labels map[string]string
		moved  func(before, after float64) bool
	}
	grew := func(b, a float64) bool { return a > b }
	positive := func(_, a float64) bool { return a > 0 }
	present := func(_, _ float64) bool { return true }
	hubSeries := []series{
		{"flotilla_hub_api_requests_total", map[string]string{"route": "POST /v1/jobs", "code": "200"}, grew},
		{"flotilla_hub_api_request_duration_seconds", map[string]string{"route": "GET /v1/jobs/{id}", "code": "200"}, grew},
		{"flotilla_hub_queue_depth", map[string]string{"machine_type": "cpu-west", "cluster": "west", "state": "HELD"}, positive},
		{"flotilla_hub_queue_oldest_wait_seconds", map[string]string{"machine_type": "cpu-west", "cluster": "west"}, positive},
		{"flotilla_hub_queue_wait_seconds", map[string]string{"machine_type": "cpu-east", "cluster": "east"}, grew},
		{"flotilla_hub_queue_wait_seconds", map[string]string{"machine_type": "cpu-west", "cluster": "west"}, grew},
		{"flotilla_hub_submit_to_bound_seconds", map[string]string{"cluster": "west"}, grew},
		{"flotilla_hub_scheduling_latency_seconds", nil, grew},
		{"flotilla_hub_burst_decisions_total", map[string]string{"rule": "east-to-west", "machine_type": "cpu-west", "cluster": "west"}, grew},
		{"flotilla_hub_held_jobs", map[string]string{"limit": "bob-one-west"}, positive},
		{"flotilla_hub_job_reports_total", map[string]string{"outcome": "applied"}, grew},
		{"flotilla_hub_raft_leader", nil, positive},
		{"flotilla_hub_raft_term", nil, positive},
		{"flotilla_hub_raft_commit_index", nil, grew},
		{"flotilla_hub_raft_applied_index", nil, grew},
		{"flotilla_hub_raft_apply_lag", nil, present},
		{"flotilla_hub_raft_last_snapshot_age_seconds", nil, grew},
		{"flotilla_hub_raft_last_snapshot_index", nil, present},
		{"flotilla_hub_raft_became_leader_total", nil, positive},
		{"flotilla_hub_raft_candidacies_total", nil, positive},
		{"flotilla_hub_raft_stepped_down_total", nil, present},
		{"flotilla_hub_raft_heartbeat_failures_total", nil, present},
	}
	agentSeries := []series{
		{"flotilla_agent_scheduling_latency_seconds", nil, grew},
		{"flotilla_agent_bind_duration_seconds", nil, grew},
		{"flotilla_agent_gangs_bound_total", nil, grew},
		{"flotilla_agent_bind_failures_total", nil, present},
		{"flotilla_agent_pending_gangs", nil, present},
	}
	check := func(where string, before, after map[string]*dto.MetricFamily, ss []series) {
		for _, s := range ss {
			a, ok := sample(after, s.name, s.labels)
			if !ok {
				t.Errorf("%s: no series %s%v", where, s.name, s.labels)
				continue
			}
			b, _ := sample(before, s.name, s.labels)
			if !s.moved(b, a) {
				t.Errorf("%s: %s%v did not move: %v then %v", where, s.name, s.labels, b, a)
			}
		}
	}
	check("hub", before, scrape(ctx, t, hubURL), hubSeries)
	for name, u := range f.metrics {
		check("agent "+name, agentsBefore[name], scrape(ctx, t, u), agentSeries)
	}
	// Routes are patterns, never raw paths: no job id in any label.
	for _, m := range scrape(ctx, t, hubURL)["flotilla_hub_api_requests_total"].Metric {
		for _, l := range m.Label {
			if strings.Contains(l.GetValue(), filler.ID) {
				t.Errorf("a raw path in a route label: %s", l.GetValue())
			}
		}
	}
	t.Log(fmt.Sprintf("scraped %s and %d agents", hubURL, len(f.metrics)))
}

// TestGrafanaDashboard checks that every query of the Grafana dashboard
// names only series the hub and the agent export.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("../../deploy/grafana/flotilla.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Query any `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, n := range append(hub.MetricNames(), agent.MetricNames()...) {
		exported[n] = true
	}
	if len(exported) < 20 {
		t.Fatalf("only %d metric names exported: %v", len(exported), exported)
	}
	name := regexp.MustCompile(`flotilla_[a-z_]+`)
	check := func(where, expr string) {
		for _, n := range name.FindAllString(expr, -1) {
			base := n
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if b, ok := strings.CutSuffix(n, suffix); ok && exported[b] {
					base = b
				}
			}
			if !exported[base] {
				t.Errorf("%s: %q names %s, which nothing exports", where, expr, n)
			}
		}
	}
	queries := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if !name.MatchString(q.Expr) {
				t.Errorf("panel %q: %q names no Flotilla series", p.Title, q.Expr)
			}
			check("panel "+p.Title, q.Expr)
			queries++
		}
	}
	for _, v := range dash.Templating.List {
		if s, ok := v.Query.(string); ok {
			check("variable", s)
		}
	}
	// Every exported series is on the dashboard.
	all := string(b)
	for n := range exported {
		if !strings.Contains(all, n) {
			t.Errorf("%s is on no panel", n)
		}
	}
	t.Logf("%d panels, %d queries over %d exported series", len(dash.Panels), queries, len(exported))
}
