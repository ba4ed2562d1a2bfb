package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
)

// resultPrefix starts the one line a clients-only run prints for the
// process that started it: submissions/s, p50 ms, p99 ms, and the clients'
// own CPU µs, allocations and KB per submission.
const resultPrefix = "HUBCLIENTS "

// submitClients submits `count` jobs with `clients` concurrent clients,
// client w trying urls[w % len] first, after one warm-up submission each
// (tag keeps job ids apart between runs on one hub).
func submitClients(ctx context.Context, urls []string, caFile, key, tag string, count, clients int) (submitResult, error) {
	var res submitResult
	workers, done, err := benchWorkers(urls, caFile, key, clients, time.Minute)
	if err != nil {
		return res, err
	}
	defer done()
	job := func(id string) structs.JobSubmitRequest {
		return structs.JobSubmitRequest{ID: id, App: "solver", MachineType: "n1", Nodes: 1}
	}
	for w, c := range workers {
		if _, err := c.SubmitJob(ctx, job(fmt.Sprintf("j-%s-warm-%d", tag, w))); err != nil {
			return res, fmt.Errorf("warm-up: %w", err)
		}
	}
	var next, failures atomic.Int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, clients)
	calls := make([][]callTime, clients)
	prefix := "j-" + tag + "-"
	var wg sync.WaitGroup
	start := time.Now()
	for w := range clients {
		wg.Go(func() {
			lat[w] = make([]time.Duration, 0, count/clients+1)
			calls[w] = make([]callTime, 0, count/clients+1)
			var id []byte // a job id's bytes: one string per submission, not fmt's three objects
			for {
				k := next.Add(1) - 1
				if k >= int64(count) {
					return
				}
				t0 := time.Now()
				id = strconv.AppendInt(append(id[:0], prefix...), k, 10)
				if _, err := workers[w].SubmitJob(ctx, job(string(id))); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				took := time.Since(t0)
				lat[w] = append(lat[w], took)
				calls[w] = append(calls[w], callTime{t0.Sub(start), took})
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if f := failures.Load(); f > 0 {
		return res, fmt.Errorf("%d of %d submissions failed, first: %v", f, count, firstErr.Load())
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	res.perSec, res.p50, res.p99 = float64(count)/elapsed.Seconds(), pct(0.50), pct(0.99)
	res.tail = tailOf(calls)
	return res, nil
}

// hubClientsOnly is `flotilla-bench -hub-clients-only URLS`: only the
// clients, against running replicas; the API key comes from -hub-key or
// FLOTILLA_BENCH_KEY. It prints BENCH lines and the result line.
func hubClientsOnly(ctx context.Context, urls, caFile, key string, count, clients int) error {
	if key == "" {
		key = os.Getenv("FLOTILLA_BENCH_KEY")
	}
	if key == "" {
		return fmt.Errorf("-hub-clients-only needs -hub-key or FLOTILLA_BENCH_KEY")
	}
	list := splitURLs(urls)
	ph := startPhase("hub-clients-only")
	res, err := submitClients(ctx, list, caFile, key, "apart", count, clients)
	fig := ph.stop(count + clients)
	fmt.Fprintf(os.Stderr, "bench: hub clients only: %v; p99 %.1f ms, %v\n", fig, res.p99, res.tail)
	if err != nil {
		return err
	}
	r := &report{title: fmt.Sprintf("Hub submissions from a separate client process: %d submissions, %d clients, %d URLs", count, clients, len(list))}
	r.add("hub_clients_only_submit_per_sec", round1(res.perSec), "submits/s", "submissions per second")
	r.add("hub_clients_only_p50_ms", round1(res.p50), "ms", "p50 latency")
	r.add("hub_clients_only_p99_ms", round1(res.p99), "ms", "p99 latency")
	r.add("hub_clients_only_cpu_us_per_submit", round1(float64(fig.cpu.Nanoseconds())/1000), "us", "this process's CPU per submission")
	r.print()
	fmt.Printf("%s%f %f %f %f %f %f\n", resultPrefix, res.perSec, res.p50, res.p99,
		float64(fig.cpu.Nanoseconds())/1000, fig.allocs, fig.kbytes)
	return nil
}

func splitURLs(s string) []string {
	var out []string
	for u := range strings.SplitSeq(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// clientsApart runs the clients of one hub run in a child process (this
// program with -hub-clients-only) and measures this process's CPU, the
// replicas' alone, per submission.
func clientsApart(ctx context.Context, urls []string, caFile, key string, count, clients int) (submitResult, error) {
	var res submitResult
	self, err := os.Executable()
	if err != nil {
		return res, err
	}
	cmd := exec.CommandContext(ctx, self, "-hub-clients-only", strings.Join(urls, ","), "-hub-ca", caFile,
		"-hub-http1="+strconv.FormatBool(hubNet.http1), "-hub-h2c="+strconv.FormatBool(hubNet.h2c), "-hub-conns", strconv.Itoa(hubNet.conns),
		"-hub-submits", strconv.Itoa(count), "-hub-clients", strconv.Itoa(clients), "-hub-profile", hubProfileDir)
	cmd.Env = append(os.Environ(), "FLOTILLA_BENCH_KEY="+key)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	cpu0 := processCPU()
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("clients process: %w", err)
	}
	res.cpuPerSubmit = (processCPU() - cpu0) / time.Duration(count+clients)
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), resultPrefix); ok {
			var cpuUS float64
			if _, err := fmt.Sscan(line, &res.perSec, &res.p50, &res.p99, &cpuUS, &res.clientAllocs, &res.clientKB); err != nil {
				return res, fmt.Errorf("clients process result %q: %w", line, err)
			}
			res.clientCPU = time.Duration(cpuUS * 1000)
			return res, nil
		}
	}
	return res, fmt.Errorf("clients process printed no result")
}

// rotate returns urls starting at urls[w % len].
func rotate(urls []string, w int) []string {
	order := make([]string, len(urls))
	for k := range urls {
		order[k] = urls[(w+k)%len(urls)]
	}
	return order
}

// benchWorkers makes the clients of a hub row: client w tries urls[w %
// len] first, each on its own HTTP client (own connections), retrying
// for at most retry; done closes their idle connections.
func benchWorkers(urls []string, caFile, key string, clients int, retry time.Duration) (workers []*client.Client, done func(), err error) {
	workers = make([]*client.Client, clients)
	if hubNet.conns == 0 && (caFile == "" && !hubNet.h2c || caFile != "" && hubNet.http1 && os.Getenv(client.LeanEnv) != "0") {
		// HTTP/1.1, plain or over TLS, a client's own connections: the
		// client's default transport, whose lean round trip takes
		// submissions (over TLS offering http/1.1 only; with the lean
		// path off the client would speak HTTP/2, so -hub-http1 then
		// keeps the bench's own HTTP/1.1 transport below).
		opts := []client.Option{client.WithRetryTimeout(retry)}
		if caFile != "" {
			tc, err := hubtls.ClientFromCAFile(caFile)
			if err != nil {
				return nil, nil, fmt.Errorf("hub CA: %w", err)
			}
			opts = append(opts, client.WithTLS(tc))
		}
		for w := range workers {
			if workers[w], err = client.New(rotate(urls, w), key, opts...); err != nil {
				return nil, nil, err
			}
		}
		return workers, func() {
			for _, c := range workers {
				c.CloseIdleConnections()
			}
		}, nil
	}
	hcs, err := clientHTTP(caFile, clients)
	if err != nil {
		return nil, nil, err
	}
	for w := range workers {
		if workers[w], err = client.New(rotate(urls, w), key, client.WithRetryTimeout(retry), client.WithHTTPClient(hcs[w])); err != nil {
			closeIdle(hcs)
			return nil, nil, err
		}
	}
	return workers, func() { closeIdle(hcs) }, nil
}
