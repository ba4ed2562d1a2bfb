package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// agentTable measures what one agent's sync with the hub costs: the bytes
// of one full listing of its cluster's assignments (every page) plus one
// watch reply after one of its jobs changed, with `active` jobs running on
// the cluster among each count of finished jobs the cluster ran. The
// figure must not grow with the finished jobs: the listing walks only the
// active ones, the watch only the changed ones.
func agentTable(ctx context.Context, finished []int, active int) (*report, error) {
	r := &report{title: fmt.Sprintf("Agent sync: bytes of one full assignment listing plus one watch reply, %d active jobs, 1 hub replica", active)}
	dir, err := os.MkdirTemp("", "flotilla-bench-agent-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	b, err := startBenchHub(dir, 1, raftnode.LogStoreWAL)
	if err != nil {
		return nil, err
	}
	defer b.stop()
	if _, err := b.seed(ctx); err != nil {
		return nil, err
	}
	h := b.leader()
	if h == nil {
		return nil, fmt.Errorf("no leader")
	}
	admin, err := client.New(b.URLs(), b.AdminKey, client.WithRetryTimeout(time.Minute))
	if err != nil {
		return nil, err
	}
	defer admin.CloseIdleConnections()
	k, err := admin.CreateAgentKey(ctx, "east")
	if err != nil {
		return nil, err
	}
	agentKey := k.Key
	done := 0
	for k, n := range finished {
		start := time.Now()
		if _, err := writeJobs(ctx, h, "fin", done, n-done, structs.JobCompleted); err != nil {
			return nil, err
		}
		done = n
		fmt.Fprintf(os.Stderr, "bench: agent: %d finished jobs written in %v\n", n, time.Since(start).Round(time.Millisecond))
		act, err := writeJobs(ctx, h, fmt.Sprintf("act%d", k), 0, active, structs.JobRunning)
		if err != nil {
			return nil, err
		}
		list, index, err := fullListing(ctx, b.URL(0), agentKey)
		if err != nil {
			return nil, err
		}
		// One job of the cluster changes; the watch returns it.
		j := act[0]
		if _, err := h.Write(ctx, &fsm.JobUpdateState{ID: j.ID, Number: j.Number, Cluster: "east", State: structs.JobRunning,
			Substatus: "2 of 2 ranks up", Time: time.Now().UTC()}); err != nil {
			return nil, err
		}
		watch, err := agentGet(ctx, fmt.Sprintf("%s/v1/clusters/east/assignments?index=%d&wait=10s", b.URL(0), index), agentKey)
		if err != nil {
			return nil, err
		}
		name, label := "agent_watch_bytes_per_pass", fmt.Sprintf("%d active among %d finished jobs", active, n)
		if k < len(finished)-1 {
			name += fmt.Sprintf("_%d_finished", n)
		}
		r.add(name, float64(list+watch), "bytes", label)
		fmt.Fprintf(os.Stderr, "bench: agent: %d finished: listing %d bytes, watch %d bytes\n", n, list, watch)
		// The active jobs end: the next round's listing holds only its own.
		for _, j := range act {
			if _, err := h.Write(ctx, &fsm.JobUpdateState{ID: j.ID, Number: j.Number, Cluster: "east", State: structs.JobCompleted,
				Time: time.Now().UTC()}); err != nil {
				return nil, err
			}
		}
		done += active
	}
	return r, nil
}

// writeJobs writes n jobs of cluster east through raft, 64 at a time, each
// submitted, assigned and moved to state (RUNNING or a final one), and
// returns them.
func writeJobs(ctx context.Context, h *hub.Hub, prefix string, from, n int, state structs.JobState) ([]*structs.Job, error) {
	out := make([]*structs.Job, n)
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				j, err := writeJob(ctx, h, fmt.Sprintf("%s-%06d", prefix, from+i), state)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				out[i] = j
			}
		})
	}
	wg.Wait()
	return out, firstErr
}

func writeJob(ctx context.Context, h *hub.Hub, id string, state structs.JobState) (*structs.Job, error) {
	now := time.Now().UTC()
	v, err := h.Write(ctx, &fsm.JobSubmit{Job: structs.Job{ID: id, Tenant: "bench", Owner: "bench", App: "solver", Command: "Run",
		MachineType: "n1", Nodes: 2, State: structs.JobQueued, SubmitTime: now}})
	if err != nil {
		return nil, err
	}
	j := v.(*structs.Job)
	if _, err := h.Write(ctx, &fsm.JobAssign{ID: id, Cluster: "east", Time: now}); err != nil {
		return nil, err
	}
	if v, err = h.Write(ctx, &fsm.JobUpdateState{ID: id, Number: j.Number, Cluster: "east", State: state, Time: now}); err != nil {
		return nil, err
	}
	return v.(*structs.Job), nil
}

// fullListing reads every page of east's full listing and returns the
// bytes read and the first page's index.
func fullListing(ctx context.Context, base, key string) (bytes int, index uint64, err error) {
	var after uint64
	for page := 0; ; page++ {
		url := fmt.Sprintf("%s/v1/clusters/east/assignments?after=%d", base, after)
		body, err := agentGetBody(ctx, url, key)
		if err != nil {
			return 0, 0, err
		}
		bytes += len(body.raw)
		if page == 0 {
			index = body.list.Index
		}
		if body.list.Next == 0 {
			return bytes, index, nil
		}
		after = body.list.Next
	}
}

type agentReply struct {
	raw  []byte
	list structs.AssignmentList
}

func agentGet(ctx context.Context, url, key string) (int, error) {
	r, err := agentGetBody(ctx, url, key)
	if err != nil {
		return 0, err
	}
	return len(r.raw), nil
}

func agentGetBody(ctx context.Context, url, key string) (*agentReply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, raw)
	}
	r := &agentReply{raw: raw}
	if err := json.Unmarshal(raw, &r.list); err != nil {
		return nil, err
	}
	return r, nil
}
