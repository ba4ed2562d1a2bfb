package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// logSink collects JSON log records, one Write per record.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *logSink) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// lines returns the records, raw and decoded.
func (s *logSink) lines(t *testing.T) ([]string, []map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var raw []string
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("a log line is not JSON: %v: %s", err, l)
		}
		raw, recs = append(raw, l), append(recs, m)
	}
	return raw, recs
}

// TestJobLogsCarryJobAndRequestID runs a job's life — submitted with a
// known X-Request-Id, placed by the dispatcher, built and bound by the
// agent on a real control plane, running, cancelled, its end reported and
// its objects deleted — with the hub and the agent logging JSON at debug
// level. Every line that mentions the job (its id, or its number as
// job_number) carries job = its id; the job's lines carry request_id =
// the submission's id on both sides (the hub stored it on the job and
// sent it with the assignment); and the lines of each stage are there.
func TestJobLogsCarryJobAndRequestID(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real control plane (FLOTILLA_BIN tools); skipped in -short")
	}
	env := k8senv.Start(t, k8senv.Options{Name: "east"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var hubLog, agentLog logSink
	hubs := hubtest.New(t, 1, hubtest.Options{NoSync: true, Logger: hubLog.logger(),
		Configure: func(_ int, cfg *hub.Config) {
			cfg.Dispatch = &hub.DispatchOptions{Interval: 250 * time.Millisecond, AcceptTimeout: time.Minute}
		}})
	if _, err := hubs.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	if err := env.AddNodes(ctx, nodes("east", 2, "16")...); err != nil {
		t.Fatal(err)
	}
	f := &fed{t: t, hubs: hubs, envs: map[string]*k8senv.Env{"east": env}, agents: map[string]context.CancelFunc{}, metrics: map[string]string{}}
	var err error
	if f.admin, err = client.New(hubs.URLs(), hubs.AdminKey); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.stopAgents)
	aliceKey, token := registerEast(ctx, t, f.admin, procFedOptions{})
	a, err := agent.New(agent.Config{Cluster: "east", HubURLs: hubs.URLs(), BootstrapToken: token, Kube: env.Config,
		Image: "solver:1", Heartbeat: 300 * time.Millisecond, Log: agentLog.logger(), MetricsAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	actx, stopAgent := context.WithCancel(context.Background())
	f.agents["east"] = stopAgent
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		if err := a.Run(actx); err != nil && actx.Err() == nil {
			t.Errorf("agent: %v", err)
		}
	}()

	// Submit with a request id of our own, as a proxy or a script would.
	requestID := "e2e-" + structs.NewJobID()
	body, _ := json.Marshal(structs.JobSubmitRequest{ID: structs.NewJobID(), App: "solver", Command: "run", MachineType: "cpu", Nodes: 2})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hubs.URL(0)+"/v1/jobs", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+aliceKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", requestID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var job structs.Job
	err = json.NewDecoder(resp.Body).Decode(&job)
	resp.Body.Close()
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("submit: %d, %v", resp.StatusCode, err)
	}
	if job.RequestID != requestID {
		t.Errorf("the stored job's request id is %q, want the submission's %q", job.RequestID, requestID)
	}
	alice := f.clientFor(aliceKey)
	waitJob(ctx, t, alice, job.ID, "running", running)
	if _, err := alice.CancelJob(ctx, job.ID, "enough"); err != nil {
		t.Fatal(err)
	}
	waitJob(ctx, t, alice, job.ID, "terminated", func(j *structs.Job) bool { return j.State == structs.JobTerminated })
	// The agent deletes the job's objects once the hub has its end.
	waitCond(ctx, t, "the agent deleted the job's objects", func() bool {
		_, recs := agentLog.lines(t)
		for _, r := range recs {
			if r["msg"] == "job objects deleted: the hub has its end" && r[structs.LogJob] == job.ID {
				return true
			}
		}
		return false
	})
	stopAgent()
	f.wg.Wait()

	number := fmt.Sprint(job.Number)
	for side, sink := range map[string]*logSink{"hub": &hubLog, "agent": &agentLog} {
		raw, recs := sink.lines(t)
		msgs := map[string]bool{}
		for i, r := range recs {
			mentions := strings.Contains(raw[i], job.ID) || fmt.Sprint(r[structs.LogJobNumber]) == number
			if !mentions {
				continue
			}
			if r[structs.LogJob] != job.ID {
				t.Errorf("%s: a line about job %s without job=%s: %s", side, job.Name, job.ID, raw[i])
				continue
			}
			if r[structs.LogRequestID] != requestID {
				t.Errorf("%s: a line about job %s without request_id=%s: %s", side, job.Name, requestID, raw[i])
			}
			msgs[r["msg"].(string)] = true
		}
		want := map[string][]string{
			"hub":   {"job submitted", "job assigned", "job state reported", "job stopped"},
			"agent": {"job assigned here", "job objects created", "gang bound", "job progress", "job stopped by the hub", "job ended", "job end reported", "job objects deleted: the hub has its end"},
		}[side]
		for _, m := range want {
			if !msgs[m] {
				t.Errorf("%s: no %q line about the job (its lines: %v)", side, m, keys(msgs))
			}
		}
		t.Logf("%s: %d lines, %d about the job", side, len(recs), len(msgs))
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
