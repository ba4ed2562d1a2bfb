package agent

import (
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are one agent's Prometheus series, on a registry of their own,
// served at /metrics on Config.MetricsAddr.
type metrics struct {
	reg      *prometheus.Registry
	cycles   prometheus.Histogram
	binds    prometheus.Histogram
	failures prometheus.Counter
	bound    prometheus.Counter
	pending  prometheus.Gauge
	// Elastic node groups: size asked of the cloud, resizes, failures.
	groupSize      *prometheus.GaugeVec
	resizes        *prometheus.CounterVec
	resizeFailures *prometheus.CounterVec
}

func newMetrics(cluster string) *metrics {
	labels := prometheus.Labels{"cluster": cluster}
	m := &metrics{reg: prometheus.NewRegistry()}
	m.cycles = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flotilla_agent_scheduling_latency_seconds",
		Help: "Duration of a scheduling pass (a level-2 cycle, or the pass placing pre-placed creates): snapshot and whole-gang placement.", ConstLabels: labels,
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)})
	m.binds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flotilla_agent_bind_duration_seconds",
		Help: "Duration of binding one gang (every pod, start record, head).", ConstLabels: labels,
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)})
	m.failures = prometheus.NewCounter(prometheus.CounterOpts{Name: "flotilla_agent_bind_failures_total",
		Help: "Gang binds that failed (the gang is scheduled again).", ConstLabels: labels})
	m.bound = prometheus.NewCounter(prometheus.CounterOpts{Name: "flotilla_agent_gangs_bound_total",
		Help: "Gangs bound whole.", ConstLabels: labels})
	m.pending = prometheus.NewGauge(prometheus.GaugeOpts{Name: "flotilla_agent_pending_gangs",
		Help: "Gangs the last scheduling cycle left pending.", ConstLabels: labels})
	m.groupSize = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "flotilla_agent_elastic_group_size",
		Help: "Size last asked of the cloud for an elastic node group.", ConstLabels: labels}, []string{"group"})
	m.resizes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flotilla_agent_elastic_resizes_total",
		Help: "Resizes of elastic node groups the agent asked for, by direction (up, down).", ConstLabels: labels}, []string{"group", "direction"})
	m.resizeFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flotilla_agent_elastic_resize_failures_total",
		Help: "Resizes of elastic node groups the cloud refused or that failed.", ConstLabels: labels}, []string{"group"})
	m.reg.MustRegister(m.cycles, m.binds, m.failures, m.bound, m.pending, m.groupSize, m.resizes, m.resizeFailures)
	return m
}

// MetricNames lists the names of the series an agent exports (histograms
// by their base name), for dashboards and their tests.
func MetricNames() []string {
	m := newMetrics("")
	ch := make(chan *prometheus.Desc, 16)
	for _, c := range []prometheus.Collector{m.cycles, m.binds, m.failures, m.bound, m.pending, m.groupSize, m.resizes, m.resizeFailures} {
		c.Describe(ch)
	}
	close(ch)
	var names []string
	for d := range ch {
		// prometheus.Desc has no name accessor; its String form quotes
		// the name as fqName: "...".
		_, rest, _ := strings.Cut(d.String(), `fqName: "`)
		name, _, _ := strings.Cut(rest, `"`)
		names = append(names, name)
	}
	return names
}

func (m *metrics) observeCycle(took time.Duration, pending int) {
	m.cycles.Observe(took.Seconds())
	m.pending.Set(float64(pending))
}

func (m *metrics) observeBind(took time.Duration, err error) {
	m.binds.Observe(took.Seconds())
	if err != nil {
		m.failures.Inc()
	} else {
		m.bound.Inc()
	}
}

// handler serves /metrics (and nothing else).
func (m *metrics) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	return mux
}
