package hub

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flotilla-hpc/flotilla/federation/dispatch"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// MetricsPath is where every replica serves its Prometheus metrics, on
// the API listener, without authentication (see docs/security.md).
const MetricsPath = "/metrics"

// metrics are one replica's Prometheus series, on a registry of their own.
// Counters and histograms are fed where things happen (API requests,
// dispatch passes, agents' reports); gauges are read from the state and
// the raft node when scraped.
type metrics struct {
	reg           *prometheus.Registry
	collectors    []prometheus.Collector
	requests      *prometheus.CounterVec
	inFlight      prometheus.Gauge
	latency       *prometheus.HistogramVec
	passes        prometheus.Histogram
	queueWait     *prometheus.HistogramVec
	submitToBound *prometheus.HistogramVec
	bursts        *prometheus.CounterVec
	reportsByOut  *prometheus.CounterVec

	// routes are the request series of each route and status code met so
	// far: a request looks its pair up here instead of hashing its labels
	// into both vectors.
	routesMu sync.RWMutex
	routes   map[routeCode]routeSeries

	// wall is the real clock (request latencies follow the kernel's time
	// even when the hub's clock is a test's).
	wall func() time.Time
}

// latencyBuckets span 1 ms to ~16 s; waitBuckets 0.1 s to ~7 h.
var (
	latencyBuckets = prometheus.ExponentialBuckets(0.001, 2, 15)
	waitBuckets    = prometheus.ExponentialBuckets(0.1, 2.5, 14)
)

func newMetrics(h *Hub) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), wall: time.Now}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flotilla_hub_api_requests_total",
		Help: "API requests by route pattern and status code."}, []string{"route", "code"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "flotilla_hub_api_requests_in_flight",
		Help: "API requests in their handlers now, watches and event streams included."})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "flotilla_hub_api_request_duration_seconds",
		Help: "API request latency by route pattern and status code.", Buckets: latencyBuckets}, []string{"route", "code"})
	m.passes = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flotilla_hub_scheduling_latency_seconds",
		Help: "Duration of a dispatch pass: snapshot, placement and commit of its decisions.", Buckets: latencyBuckets})
	m.queueWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "flotilla_hub_queue_wait_seconds",
		Help: "Time from submission to assignment, by machine type and cluster.", Buckets: waitBuckets},
		[]string{"machine_type", "cluster"})
	m.submitToBound = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "flotilla_hub_submit_to_bound_seconds",
		Help:    "Time from submission to the agent's first report of a bound job (STARTING or RUNNING), by machine type and cluster.",
		Buckets: waitBuckets}, []string{"machine_type", "cluster"})
	m.bursts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flotilla_hub_burst_decisions_total",
		Help: "Assignments a burst rule made, by rule, machine type and cluster."}, []string{"rule", "machine_type", "cluster"})
	m.reportsByOut = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flotilla_hub_job_reports_total",
		Help: "Agents' job reports by outcome (applied, stale, retry)."}, []string{"outcome"})
	m.collectors = []prometheus.Collector{m.requests, m.inFlight, m.latency, m.passes, m.queueWait, m.submitToBound, m.bursts,
		m.reportsByOut, &stateCollector{h: h, m: m}}
	m.reg.MustRegister(m.collectors...)
	return m
}

// handler serves the registry.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// instrument counts and times every request by the pattern of the route
// that served it (never the raw path: ids would make a series each).
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := m.wall()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" || route == "/" {
			route = "other"
		}
		rs := m.routeSeries(route, sw.code)
		rs.requests.Inc()
		rs.latency.Observe(m.wall().Sub(start).Seconds())
	})
}

// routeCode is a route pattern and a reply's status code.
type routeCode struct {
	route string
	code  int
}

// routeSeries are the request count and latency series of one routeCode.
type routeSeries struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// routeSeries returns the series of route and code, made once.
func (m *metrics) routeSeries(route string, code int) routeSeries {
	k := routeCode{route, code}
	m.routesMu.RLock()
	rs, ok := m.routes[k]
	m.routesMu.RUnlock()
	if ok {
		return rs
	}
	c := strconv.Itoa(code)
	rs = routeSeries{requests: m.requests.WithLabelValues(route, c), latency: m.latency.WithLabelValues(route, c)}
	m.routesMu.Lock()
	if m.routes == nil {
		m.routes = make(map[routeCode]routeSeries)
	}
	m.routes[k] = rs
	m.routesMu.Unlock()
	return rs
}

// observePass records a dispatch pass.
func (m *metrics) observePass(rep dispatch.PassReport) {
	m.passes.Observe(rep.Took.Seconds())
	for _, a := range rep.Assigned {
		m.queueWait.WithLabelValues(a.MachineType, a.Cluster).Observe(a.Waited.Seconds())
		if a.BurstRule != "" {
			m.bursts.WithLabelValues(a.BurstRule, a.MachineType, a.Cluster).Inc()
		}
	}
}

// observeReport records one applied job report: the first report of a
// bound job gives its submit-to-bound time.
func (m *metrics) observeReport(before *structs.Job, state structs.JobState, outcome structs.ReportOutcome, now time.Time) {
	m.reportsByOut.WithLabelValues(string(outcome)).Inc()
	if outcome != structs.ReportApplied || before == nil || !before.StartTime.IsZero() ||
		(state != structs.JobStarting && state != structs.JobRunning) {
		return
	}
	if before.State != structs.JobAssigned {
		return
	}
	mt := before.MachineType
	if before.AssignedMachineType != "" {
		mt = before.AssignedMachineType
	}
	m.submitToBound.WithLabelValues(mt, before.Cluster).Observe(now.Sub(before.SubmitTime).Seconds())
}

type statusWriter struct {
	http.ResponseWriter
	code    int
	written bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.written {
		w.code, w.written = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.written = true
	return w.ResponseWriter.Write(b)
}

// Flush passes flushes on (watches and server-sent events stream).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// MetricNames lists the names of the series a replica exports (histograms
// by their base name), for dashboards and their tests.
func MetricNames() []string {
	return describedNames(newMetrics(nil).collectors)
}

// describedNames collects the metric names collectors describe.
// prometheus.Desc has no name accessor; its String form quotes the name
// as fqName: "...".
func describedNames(cs []prometheus.Collector) []string {
	ch := make(chan *prometheus.Desc, 256)
	for _, c := range cs {
		c.Describe(ch)
	}
	close(ch)
	var names []string
	for d := range ch {
		_, rest, _ := strings.Cut(d.String(), `fqName: "`)
		name, _, _ := strings.Cut(rest, `"`)
		names = append(names, name)
	}
	return names
}
