package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// hubBatchItems is -hub-batch-items: the jobs per POST /v1/jobs/batch of
// the hub table's batch row (0: no batch row).
var hubBatchItems = flag.Int("hub-batch-items", 32, "jobs per call of the hub table's batch row (POST /v1/jobs/batch, 3 replicas; 0: no batch row)")

// batchResult is one run of the batch row.
type batchResult struct {
	perSec, p50, p99  float64 // jobs a second; per-call latency
	entries, commands uint64
	figures           phaseFigures // per job
	leaders           leaderFigures
}

// hubBatchRows measures the same `count` jobs as the single-submission
// rows, sent by `clients` concurrent clients in calls of items jobs each
// (client.SubmitJobs), on 3 replicas on the WAL store, `repeat` runs on
// fresh hubs: the median run's figures, every run's on stderr.
func hubBatchRows(ctx context.Context, r *report, run hubRun, count, clients, repeat, items int) (changes uint64, err error) {
	if items <= 0 {
		return 0, nil
	}
	if items > structs.MaxBatchJobs {
		return 0, fmt.Errorf("-hub-batch-items %d: at most %d", items, structs.MaxBatchJobs)
	}
	all := make([]batchResult, 0, repeat)
	for range max(repeat, 1) {
		res, err := benchSubmitBatch(ctx, run, count, clients, items)
		if err != nil {
			return changes, fmt.Errorf("3 replicas, batches of %d: %w", items, err)
		}
		fmt.Fprintf(os.Stderr, "bench: hub, 3 replicas, batches of %d, run %d: %.0f jobs/s, call p99 %.1f ms, %d commands in %d raft log entries on the leader, %v\n",
			items, len(all)+1, res.perSec, res.p99, res.commands, res.entries, res.figures)
		res.leaders.print(fmt.Sprintf("hub, 3 replicas, batches of %d, run %d", items, len(all)+1))
		changes += res.leaders.changes
		all = append(all, res)
	}
	slices.SortFunc(all, func(a, b batchResult) int { return cmp.Compare(a.perSec, b.perSec) })
	res := all[len(all)/2]
	rates := make([]string, len(all))
	for i, a := range all {
		rates[i] = fmt.Sprintf("%.0f", a.perSec)
	}
	fmt.Fprintf(os.Stderr, "bench: hub, 3 replicas, batches of %d: runs %s jobs/s\n", items, strings.Join(rates, " / "))
	label := fmt.Sprintf("3 replicas, %d jobs per call (POST /v1/jobs/batch)", items)
	r.add("hub_submit_per_sec_3replicas_batch", round1(res.perSec), "jobs/s", label+": jobs per second")
	r.add("hub_submit_batch_p50_ms_3replicas", round1(res.p50), "ms", label+": p50 latency of a call")
	r.add("hub_submit_batch_p99_ms_3replicas", round1(res.p99), "ms", label+": p99 latency of a call")
	r.add("hub_submit_batch_cpu_us_per_job_3replicas", round1(float64(res.figures.cpu.Nanoseconds())/1000), "us",
		label+": CPU per job (replicas and clients)")
	r.add("hub_submit_batch_allocs_per_job_3replicas", round1(res.figures.allocs), "allocs", label+": heap allocations per job (replicas and clients)")
	if res.entries > 0 {
		r.add("hub_submit_batch_commands_per_entry_3replicas", round1(float64(res.commands)/float64(res.entries)), "commands",
			label+": commands per raft log entry on the leader")
	}
	return changes, nil
}

// benchSubmitBatch is one run of the batch row on a fresh hub.
func benchSubmitBatch(ctx context.Context, run hubRun, count, clients, items int) (batchResult, error) {
	var res batchResult
	dir, err := os.MkdirTemp("", "flotilla-bench-hub-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	cl, err := startBenchHub(dir, run.replicas, run.store)
	if err != nil {
		return res, err
	}
	defer cl.stop()
	key, err := cl.seed(ctx)
	if err != nil {
		return res, err
	}
	ph := startPhase(fmt.Sprintf("hub-%d-%s-batch%d", run.replicas, run.store, items))
	lw := watchLeaders(cl)
	res, err = batchClients(ctx, cl.URLs(), cl.CAFile, key, count, clients, items)
	res.leaders = lw.stop()
	fig := ph.stop(count + clients)
	if err != nil {
		return res, err
	}
	res.figures = fig
	res.entries, res.commands, err = cl.leaderHolds(count + clients)
	return res, err
}

// batchClients submits `count` jobs with `clients` concurrent clients in
// calls of `items` jobs (the last of a client may be shorter), client w
// trying urls[w % len] first, after one warm-up call of one job each.
func batchClients(ctx context.Context, urls []string, caFile, key string, count, clients, items int) (batchResult, error) {
	var res batchResult
	// A call of 1,000 jobs among 64 waits for all of them: on a loaded
	// machine longer than the single rows' minute.
	workers, done, err := benchWorkers(urls, caFile, key, clients, 5*time.Minute)
	if err != nil {
		return res, err
	}
	defer done()
	job := func(id string) structs.JobSubmitRequest {
		return structs.JobSubmitRequest{ID: id, App: "solver", MachineType: "n1", Nodes: 1}
	}
	submit := func(c *client.Client, reqs []structs.JobSubmitRequest) error {
		out, err := c.SubmitJobs(ctx, reqs)
		if err != nil {
			return err
		}
		for _, r := range out {
			if r.Err != nil {
				return r.Err
			}
		}
		return nil
	}
	for w, c := range workers {
		if err := submit(c, []structs.JobSubmitRequest{job(fmt.Sprintf("j-batch-warm-%d", w))}); err != nil {
			return res, fmt.Errorf("warm-up: %w", err)
		}
	}
	var next atomic.Int64
	var failures atomic.Int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range clients {
		wg.Go(func() {
			reqs := make([]structs.JobSubmitRequest, 0, items)
			for {
				lo := next.Add(int64(items)) - int64(items)
				if lo >= int64(count) {
					return
				}
				reqs = reqs[:0]
				for k := lo; k < min(lo+int64(items), int64(count)); k++ {
					reqs = append(reqs, job(fmt.Sprintf("j-batch-%d", k)))
				}
				t0 := time.Now()
				if err := submit(workers[w], reqs); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if f := failures.Load(); f > 0 {
		return res, fmt.Errorf("%d calls failed, first: %v", f, firstErr.Load())
	}
	all := slices.Concat(lat...)
	if len(all) == 0 {
		return res, errors.New("no calls")
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	res.perSec, res.p50, res.p99 = float64(count)/elapsed.Seconds(), pct(0.50), pct(0.99)
	return res, nil
}
