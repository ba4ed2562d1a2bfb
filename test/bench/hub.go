package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// hubRun is one row group of the hub table: a replica count and the raft
// log store the replicas run on.
type hubRun struct {
	replicas int
	store    string // raftnode.LogStoreWAL or raftnode.LogStoreBolt
}

// parseHubRuns reads "3,1,3/bolt": counts, each optionally /wal or /bolt.
func parseHubRuns(spec string) ([]hubRun, error) {
	var runs []hubRun
	for f := range strings.SplitSeq(spec, ",") {
		count, store, _ := strings.Cut(strings.TrimSpace(f), "/")
		n, err := strconv.Atoi(count)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want a replica count such as 3 or 3/bolt", f)
		}
		switch store {
		case "":
			store = raftnode.LogStoreWAL
		case raftnode.LogStoreWAL, raftnode.LogStoreBolt:
		default:
			return nil, fmt.Errorf("%q: log store %q, want wal or bolt", f, store)
		}
		runs = append(runs, hubRun{replicas: n, store: store})
	}
	return runs, nil
}

// hubTable measures job submissions through the hub's HTTP API: `count`
// submissions by `clients` concurrent clients, each trying a different
// replica first (the client follows the leader hint; followers forward
// to the leader), for each run (3 and 1 replicas on the default WAL log
// store, and 3 on the bolt store in `make bench`).
// Every replica runs as the hub binary configures it: raft's default
// timing, log store on disk with fsync, real HTTP on loopback.
//
// Each configuration runs `repeat` times, each on a fresh hub; the table
// shows the run with the median throughput (its p50 and p99 with it), and
// stderr every run's figure: on a 2-core machine one run varies by ±10 %.
func hubTable(ctx context.Context, count, clients, repeat int, runs []hubRun) (*report, error) {
	defer gcAsHubBinary()()
	r := &report{title: fmt.Sprintf("Hub job submission through the HTTP API: %d submissions, %d concurrent clients, fsync on, median of %d runs",
		count, clients, repeat)}
	for _, run := range runs {
		n := run.replicas
		all := make([]submitResult, 0, repeat)
		var changes uint64 // leader changes over this configuration's rows
		for range max(repeat, 1) {
			res, err := benchSubmit(ctx, run, count, clients)
			if err != nil {
				return nil, fmt.Errorf("%d replicas (%s): %w", n, run.store, err)
			}
			fmt.Fprintf(os.Stderr, "bench: hub, %d replicas (%s), run %d: %.0f submits/s, p99 %.1f ms, %v; %v\n",
				n, run.store, len(all)+1, res.perSec, res.p99, res.tail, res.figures)
			if n > 1 {
				res.leaders.print(fmt.Sprintf("hub, %d replicas (%s), run %d", n, run.store, len(all)+1))
				changes += res.leaders.changes
			}
			all = append(all, res)
		}
		slices.SortFunc(all, func(a, b submitResult) int { return cmp.Compare(a.perSec, b.perSec) })
		res := all[len(all)/2]
		rates := make([]string, len(all))
		for i, a := range all {
			rates[i] = fmt.Sprintf("%.0f", a.perSec)
		}
		suffix := fmt.Sprintf("_%dreplica", n)
		label := fmt.Sprintf("%d replica", n)
		if n > 1 {
			suffix += "s"
			label += "s"
		}
		if run.store != raftnode.LogStoreWAL {
			suffix += "_" + run.store
			label += ", " + run.store + " log"
		}
		r.add("hub_submit_per_sec"+suffix, round1(res.perSec), "submits/s", label+": submissions per second")
		r.add("hub_submit_p50_ms"+suffix, round1(res.p50), "ms", label+": p50 latency")
		r.add("hub_submit_p99_ms"+suffix, round1(res.p99), "ms", label+": p99 latency")
		if res.entries > 0 {
			r.add("hub_submit_commands_per_entry"+suffix, round1(float64(res.commands)/float64(res.entries)), "commands",
				label+": commands per raft log entry on the leader (median run)")
		}
		fmt.Fprintf(os.Stderr, "bench: hub, %s (%s): runs %s submits/s; median run: %d commands in %d raft log entries on the leader, %v\n",
			label, protocolName(res.caFile), strings.Join(rates, " / "), res.commands, res.entries, res.figures)
		if n == 3 && run.store == raftnode.LogStoreWAL {
			apart, err := benchSubmitApart(ctx, run, count, clients)
			if err != nil {
				return nil, fmt.Errorf("3 replicas, clients apart: %w", err)
			}
			r.add("hub_submit_per_sec_3replicas_clients_apart", round1(apart.perSec), "submits/s", "3 replicas, clients in a separate process (-hub-clients-only): submissions per second")
			r.add("hub_submit_p99_ms_3replicas_clients_apart", round1(apart.p99), "ms", "3 replicas, clients apart: p99 latency")
			r.add("hub_replicas_cpu_us_per_submit_3replicas", round1(float64(apart.cpuPerSubmit.Nanoseconds())/1000), "us",
				"3 replicas, clients apart: CPU of the replicas alone per submission (all three)")
			r.add("hub_clients_cpu_us_per_submit_3replicas", round1(float64(apart.clientCPU.Nanoseconds())/1000), "us",
				"3 replicas, clients apart: CPU of the 64 clients' process per submission")
			fmt.Fprintf(os.Stderr, "bench: hub, 3 replicas, clients apart: replicas %v, clients %v, %.0f allocations, %.1f KB per submission in the clients' process\n",
				apart.cpuPerSubmit.Round(100*time.Nanosecond), apart.clientCPU.Round(100*time.Nanosecond), apart.clientAllocs, apart.clientKB)
			apart.leaders.print("hub, 3 replicas, clients apart")
			changes += apart.leaders.changes
			batchChanges, err := hubBatchRows(ctx, r, run, count, clients, repeat, *hubBatchItems)
			if err != nil {
				return nil, err
			}
			changes += batchChanges
		}
		if n > 1 {
			r.add("hub_leader_changes"+suffix, float64(changes), "changes",
				label+": leader changes during the submissions, summed over every run of its rows")
		}
	}
	return r, nil
}

// submitResult is one run's figures.
type submitResult struct {
	perSec, p50, p99  float64
	tail              latencyTail   // the calls over slowCall (in-process rows, and the clients-apart process's own stderr)
	cpuPerSubmit      time.Duration // the process's CPU time (replicas and clients)
	clientCPU         time.Duration // clients apart: the clients' process's CPU time
	clientAllocs      float64       // clients apart: the clients' process's allocations
	clientKB          float64       // and KB allocated per submission
	allocs, kbytes    float64       // heap allocations and KB allocated per submission (same)
	entries, commands uint64
	figures           phaseFigures
	caFile            string // the replicas' CA ("": plain HTTP)
	leaders           leaderFigures
}

func benchSubmit(ctx context.Context, run hubRun, count, clients int) (submitResult, error) {
	n := run.replicas
	var res submitResult
	dir, err := os.MkdirTemp("", "flotilla-bench-hub-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	cl, err := startBenchHub(dir, n, run.store)
	if err != nil {
		return res, err
	}
	defer cl.stop()
	key, err := cl.seed(ctx)
	if err != nil {
		return res, err
	}
	ph := startPhase(fmt.Sprintf("hub-%d-%s", n, run.store))
	lw := watchLeaders(cl)
	sub, err := submitClients(ctx, cl.URLs(), cl.CAFile, key, "bench", count, clients)
	res.leaders = lw.stop()
	fig := ph.stop(count + clients)
	if err != nil {
		return res, err
	}
	res.perSec, res.p50, res.p99, res.tail, res.caFile = sub.perSec, sub.p50, sub.p99, sub.tail, cl.CAFile
	res.cpuPerSubmit, res.allocs, res.kbytes, res.figures = fig.cpu, fig.allocs, fig.kbytes, fig
	res.entries, res.commands, err = cl.leaderHolds(count + clients)
	return res, err
}

// benchSubmitApart is one run with the clients in a child process.
func benchSubmitApart(ctx context.Context, run hubRun, count, clients int) (submitResult, error) {
	dir, err := os.MkdirTemp("", "flotilla-bench-hub-")
	if err != nil {
		return submitResult{}, err
	}
	defer os.RemoveAll(dir)
	cl, err := startBenchHub(dir, run.replicas, run.store)
	if err != nil {
		return submitResult{}, err
	}
	defer cl.stop()
	key, err := cl.seed(ctx)
	if err != nil {
		return submitResult{}, err
	}
	// The same start as the in-process rows; with -hub-profile, the
	// replicas' profiles of this run.
	ph := startPhase(fmt.Sprintf("hub-%d-%s-apart", run.replicas, run.store))
	lw := watchLeaders(cl)
	res, err := clientsApart(ctx, cl.URLs(), cl.CAFile, key, count, clients)
	res.leaders = lw.stop()
	ph.stop(count + clients)
	return res, err
}

// benchHub is n hub replicas in this process, their raft warnings kept
// while a row's leadership is watched (watchLeaders).
type benchHub struct {
	*hubtest.Cluster
	raftLogs *raftLogs
}

// startBenchHub starts n replicas on the given raft log store, as the hub
// binary configures them (hubtest.Options.AsBinary), with cheap password
// hashes.
func startBenchHub(dir string, n int, store string) (*benchHub, error) {
	return startHubTLS(dir, n, store, hubNet.tls, nil)
}

// startHub is startBenchHub with prepare, if set, called with each
// replica's Config before it starts.
func startHub(dir string, n int, store string, prepare func(i int, cfg *hub.Config)) (*benchHub, error) {
	return startHubTLS(dir, n, store, false, prepare)
}

// startHubTLS is startHub, on TLS if withTLS (hubtest.Options.TLS).
func startHubTLS(dir string, n int, store string, withTLS bool, prepare func(i int, cfg *hub.Config)) (*benchHub, error) {
	logs := &raftLogs{}
	c, err := hubtest.Start(dir, n, hubtest.Options{
		AsBinary: true, TLS: withTLS,
		Configure: func(i int, cfg *hub.Config) {
			cfg.RaftLogger = logs.logger(string(cfg.Raft.ID))
			cfg.Raft.LogStore = store
			cfg.UnencryptedHTTP2 = hubNet.h2c && !withTLS
			cfg.Auth.BcryptCost = bcrypt.MinCost
			if prepare != nil {
				prepare(i, cfg)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	return &benchHub{Cluster: c, raftLogs: logs}, nil
}

func (b *benchHub) stop() { b.StopAll() }

func (b *benchHub) leader() *hub.Hub {
	for _, i := range b.Live() {
		if h := b.Hub(i); h != nil && h.Node().IsLeader() {
			return h
		}
	}
	return nil
}

// seed waits for a leader and creates a tenant, a cluster, machine type
// n1, app solver and a user with an API key, which it returns.
func (b *benchHub) seed(ctx context.Context) (string, error) {
	tc, err := b.ClientTLS()
	if err != nil {
		return "", err
	}
	admin, err := client.New(b.URLs(), b.AdminKey, client.WithRetryTimeout(time.Minute), client.WithTLS(tc))
	if err != nil {
		return "", err
	}
	defer admin.CloseIdleConnections()
	deadline := time.Now().Add(time.Minute)
	for {
		leader, err := admin.Ready(ctx)
		if err == nil && leader != "" {
			break
		}
		if time.Now().After(deadline) {
			return "", errors.New("no leader within a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	steps := []func() error{
		func() error { _, err := admin.PutTenant(ctx, &structs.Tenant{Name: "bench"}); return err },
		func() error { _, err := admin.PutCluster(ctx, "east", &structs.ClusterSpec{Zone: "z1"}); return err },
		func() error {
			_, err := admin.PutMachineType(ctx, &structs.MachineType{Name: "n1", Cores: 4, Slots: 4, RAM: 16,
				ScaleMin: 1, ScaleMax: 16, Cluster: "east"})
			return err
		},
		func() error {
			_, err := admin.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic,
				AppDef: structs.AppDef{Name: "Solver", Commands: map[string]structs.Command{"Run": {Path: "/run.sh"}}}})
			return err
		},
		func() error {
			_, err := admin.PutUser(ctx, "bench", &structs.UserSpec{Tenant: "bench", Role: structs.RoleUser})
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return "", err
		}
	}
	k, err := admin.CreateAPIKey(ctx, "bench", "bench")
	if err != nil {
		return "", err
	}
	return k.Key, nil
}

// gcAsHubBinary sets this process's garbage collector as flotilla-hub
// sets its own (hub.TuneGC) and returns what restores the previous
// settings, for the tables that run replicas in this process.
func gcAsHubBinary() (restore func()) {
	percent := debug.SetGCPercent(100)
	debug.SetGCPercent(percent)
	limit := debug.SetMemoryLimit(-1)
	hub.TuneGC()
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}

// heapBytes is the number of heap bytes this process allocated so far.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// processCPU is the user+system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// leaderHolds checks that the leader (if there is one) stores want jobs
// and returns its raft batching counts: log entries and the commands in
// them.
func (b *benchHub) leaderHolds(want int) (entries, commands uint64, err error) {
	l := b.leader()
	if l == nil {
		return 0, 0, nil
	}
	entries, commands = l.Node().BatchStats()
	jobs, _, err := l.Store().Read().ListJobs(state.JobFilter{})
	if err != nil {
		return entries, commands, err
	}
	if len(jobs) != want {
		return entries, commands, fmt.Errorf("leader stores %d jobs, want %d", len(jobs), want)
	}
	return entries, commands, nil
}
