// Command bench prints Flotilla's benchmark tables — the gang scheduler
// against kube-scheduler and the raw binding ceiling on one simulated
// cluster, the pure scheduler, job submission through the hub's HTTP API,
// the bytes an agent's sync with the hub costs, the portal's jobs page
// and dispatch latency —
// with every figure also as a line "BENCH <name> <value> <unit>".
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/raftnode"
)

// report collects a table's rows and prints BENCH lines as they come.
type report struct {
	title  string
	suffix string // appended to every BENCH name (a scale run of a table)
	rows   [][3]string
}

func (r *report) add(name string, value float64, unit, label string) {
	v := fmt.Sprintf("%.1f", value)
	if value == float64(int64(value)) {
		v = fmt.Sprintf("%d", int64(value))
	}
	fmt.Printf("BENCH %s%s %s %s\n", name, r.suffix, v, unit)
	r.rows = append(r.rows, [3]string{label, v, unit})
}

func (r *report) print() {
	fmt.Printf("\n%s\n%s\n", r.title, strings.Repeat("-", len(r.title)))
	w := 0
	for _, row := range r.rows {
		w = max(w, len(row[0]))
	}
	for _, row := range r.rows {
		fmt.Printf("  %-*s  %12s %s\n", w, row[0], row[1], row[2])
	}
	fmt.Println()
}

func main() {
	bin := flag.String("bin", "bin", "directory with the control-plane binaries")
	only := flag.String("only", "", "comma-separated tables: pure,hub,agent,sched,dispatch,portal,array (default all)")
	portalJobs := flag.Int("portal-jobs", 1000, "jobs of the user whose jobs page the portal table renders")
	dispatchJobs := flag.Int("dispatch-jobs", 200, "8-pod jobs for the dispatch latency table")
	hubSubmits := flag.Int("hub-submits", 20000, "submissions for the hub table")
	hubRepeat := flag.Int("hub-repeat", 3, "runs per hub configuration; the table shows the median")
	hubClients := flag.Int("hub-clients", 64, "concurrent clients for the hub table")
	hubReplicas := flag.String("hub-replicas", "3,1,3/bolt", "comma-separated hub runs: replica count, optionally /wal or /bolt (the raft log store; default wal)")
	agentFinished := flag.Int("agent-finished", 100000, "finished jobs of the cluster in the agent table's last row (the first has 1,000)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.StringVar(&hubProfileDir, "hub-profile", "", "write a CPU profile and the allocations of each hub row's submissions to this directory (<row>.cpu.prof, <row>.allocs.prof beside its start <row>.allocs.base.prof; the clients-apart run: the replicas as <row>-apart, the clients' process as hub-clients-only); not with -cpuprofile")
	memProfile := flag.String("memprofile", "", "write an allocation profile of the whole run to this file at its end")
	nodes := flag.Int("nodes", 1000, "simulated nodes for the scheduler table")
	pods := flag.Int("pods", 5000, "pods for the scheduler table")
	arrayTasks := flag.Int("array-tasks", 10000, "tasks of the array job in the array table")
	indexedCompletions := flag.Int("indexed-completions", 500, "completions of the Indexed Job in the array table (a pod each; about 3 min at 3 pods/s)")
	scaleNodes := flag.Int("scale-nodes", 5000, "also run the scheduler table at this many nodes, its BENCH names ending _<N>nodes (0: not)")
	scalePods := flag.Int("scale-pods", 1000, "pods for the -scale-nodes run (each row; meant to keep that table under ~4 min on 2 quiet cores)")
	clientsOnly := flag.String("hub-clients-only", "", "comma-separated hub URLs: run only the hub table's clients against running replicas (API key: -hub-key or env FLOTILLA_BENCH_KEY), print their figures and exit")
	hubFinished := flag.Int("hub-finished", 100000, "finished jobs in the state of the hub table's scale row (0: no scale row); -hub-finished 1000000 is the issue's row")
	// bolt by default: on wal, a follower of the restored cluster panicked
	// in hashicorp/raft ("log not found", processLogs) in 2 of 3 runs on
	// a loaded machine (docs/performance.md, scale row).
	hubFinishedStore := flag.String("hub-finished-store", raftnode.LogStoreWAL, "raft log store of the scale row's replicas: wal or bolt")
	hubCA := flag.String("hub-ca", "", "CA certificate (PEM) of the replicas' API for -hub-clients-only with https URLs")
	flag.BoolVar(&hubNet.tls, "hub-tls", false, "the hub table's replicas serve HTTPS and run raft on mutual TLS, as flotilla-hub does; clients speak HTTP/2 unless -hub-http1 (the scale row stays plain)")
	flag.BoolVar(&hubNet.http1, "hub-http1", false, "with -hub-tls, the clients speak HTTP/1.1 (the Go client's default transport, lean round trip; with FLOTILLA_CLIENT_LEAN=0 net/http)")
	flag.BoolVar(&hubNet.h2c, "hub-h2c", false, "without -hub-tls, the hub table's clients speak HTTP/2 in the clear (h2c, prior knowledge); with -hub-conns N they share N connections")
	flag.IntVar(&hubNet.conns, "hub-conns", 0, "the hub table's clients share this many HTTP transports (HTTP/2 multiplexes them on that many connections); 0: one per client")
	flag.IntVar(&hubRaftLogLines, "hub-raft-log", hubRaftLogLines, "print up to this many of the replicas' raft warnings of a 3-replica hub row whose leadership moved (0: only the counts)")
	hubKey := flag.String("hub-key", "", "API key of a tenant user for -hub-clients-only (needs machine type n1 and app solver)")
	flag.BoolVar(&schedDefaultContent, "sched-default-content", false, "the scheduler table's clients (the agent's too) keep client-go's default content types (protobuf for the generated calls, JSON for pods/binding), as the agent did before")
	flag.StringVar(&schedRows, "sched-rows", "", "comma-separated rows of the scheduler table (default all): ks-single,fl-single,ks-gang,fl-gang,bind-ceiling,create-ceiling,fl-create,ks-create; only when named: create-ceiling-watch, create-ceiling-meta (the ceiling with an extra pod watcher / metadata-only replies)")
	flag.StringVar(&apiProfilePrefix, "apiserver-cpuprofile", "", "profile the scheduler table's kube-apiserver in each measured stretch of a row, into PREFIX-N.prof")
	flag.DurationVar(&apiProfileFor, "apiserver-profile-for", 10*time.Second, "length of each -apiserver-cpuprofile profile, from the stretch's start (keep it under the row's length)")
	flag.IntVar(&bindAB, "bind-ab", 0, "after the bind path's rows, run the raw binding ceiling and Flotilla's single-pod row N more times each, alternating which goes first; prints each run, the medians and BENCH sched_flotilla_pct_of_ceiling_ab_median")
	flag.StringVar(&bindABRows, "bind-ab-rows", bindABRows, "the rows of each -bind-ab run, rotating: raw and any of fl, fl-agent, fl-informer (Flotilla's row counted as -bind-observer says / through the agent's informer / through an informer of its own), raw-watch (the ceiling with that informer beside it)")
	flag.StringVar(&bindObserver, "bind-observer", "agent", "what counts the binds of Flotilla's bind-path rows: agent (the agent's own pod informer, no watcher beside it, as the pre-placed row counts) or informer (a pod informer of the row's own, as kube-scheduler's rows; the table before issue 19's second bind-path round)")
	flag.IntVar(&createAB, "create-ab", 0, "after the create rows, run the raw create ceiling and the pre-placed row N more times each, alternating which goes first, and print each run's figures and the medians (stderr)")
	flag.StringVar(&schedRunner, "sched-runner", "none", "the pre-placed row also runs the agent's job runner: none, shared (its pod informer shared with the cache, as flotilla-agent runs it) or own (its own pod informer, as before it was shared)")
	flag.Parse()
	if bindObserver != "agent" && bindObserver != "informer" {
		fmt.Fprintf(os.Stderr, "bench: -bind-observer %q: want agent or informer\n", bindObserver)
		os.Exit(2)
	}
	if err := checkBindABRows(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if hubProfileDir != "" {
		runtime.MemProfileRate = hubProfileMemRate
	}
	abs, err := filepath.Abs(*bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("FLOTILLA_BIN", abs)
	want := func(name string) bool {
		return *only == "" || strings.Contains(","+*only+",", ","+name+",")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		defer writeMemProfile(*memProfile)
	}
	if *clientsOnly != "" {
		if err := hubClientsOnly(ctx, *clientsOnly, *hubCA, *hubKey, *hubSubmits, *hubClients); err != nil {
			fmt.Fprintln(os.Stderr, "bench: hub clients:", err)
			os.Exit(1)
		}
		return
	}
	if want("pure") {
		pureTable().print()
	}
	if want("hub") {
		runs, err := parseHubRuns(*hubReplicas)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: -hub-replicas %q: %v\n", *hubReplicas, err)
			os.Exit(2)
		}
		r, err := hubTable(ctx, *hubSubmits, *hubClients, *hubRepeat, runs)
		if err == nil && *hubFinished > 0 {
			err = hubScaleRow(ctx, r, *hubFinished, *hubSubmits, *hubClients, *hubFinishedStore)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: hub table:", err)
			pprof.StopCPUProfile()
			os.Exit(1)
		}
		r.print()
	}
	if want("agent") {
		r, err := agentTable(ctx, []int{1000, max(*agentFinished, 1001)}, 100)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: agent table:", err)
			os.Exit(1)
		}
		r.print()
	}
	if want("sched") {
		r, err := schedTable(ctx, *nodes, *pods, "")
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: scheduler table:", err)
			os.Exit(1)
		}
		r.print()
		if *scaleNodes > 0 {
			r, err := schedTable(ctx, *scaleNodes, *scalePods, fmt.Sprintf("_%dnodes", *scaleNodes))
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench: scheduler table at scale:", err)
				os.Exit(1)
			}
			r.print()
		}
	}
	if want("portal") {
		r, err := portalTable(ctx, *portalJobs, 30)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: portal table:", err)
			os.Exit(1)
		}
		r.print()
	}
	if want("array") {
		r, err := arrayTable(ctx, *arrayTasks, *indexedCompletions)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: array table:", err)
			os.Exit(1)
		}
		r.print()
	}
	if want("dispatch") {
		r, err := dispatchTable(ctx, *dispatchJobs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: dispatch table:", err)
			os.Exit(1)
		}
		r.print()
	}
}
