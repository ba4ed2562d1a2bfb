package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/hubsync"
	"github.com/flotilla-hpc/flotilla/clusteragent/idmapper"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/prepull"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
	"github.com/flotilla-hpc/flotilla/clusteragent/vaultexport"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
	"github.com/flotilla-hpc/flotilla/internal/version"
)

// Config is everything one agent needs.
type Config struct {
	// Cluster is this cluster's name at the hub.
	Cluster string
	// HubURLs are the hub replicas' base URLs; AgentKey the cluster's key.
	HubURLs  []string
	AgentKey string
	// BootstrapToken, used when AgentKey is empty, is exchanged once at the
	// hub for the agent key (written to KeyFile, if set, for restarts).
	BootstrapToken string
	KeyFile        string
	// HubCAFile is the CA the hub's certificate is checked against. When
	// it does not exist yet and the bootstrap token carries the hub CA's
	// pin (hubtls.JoinToken), the agent checks the hub against the pin on
	// first contact and saves the CA it pinned here. Empty: the system's
	// CAs (a hub with a certificate from a public CA).
	HubCAFile string
	// Kube is the API server of this cluster.
	Kube *rest.Config
	// NamespacePrefix names the tenant namespaces the agent makes and runs
	// each tenant's jobs in (default podgroup.DefaultNamespacePrefix).
	NamespacePrefix string
	// Network: interactive jobs' ingress, egress allow-list, node CIDRs.
	Network Network
	// ExtraNamespaces: further namespaces whose gangs level 2 schedules.
	ExtraNamespaces []string
	// Image is the default app image.
	Image string
	// NodeSelector (a label selector string) limits the nodes it uses.
	NodeSelector string
	// Tolerations are added to every job pod (dedicated node pools).
	Tolerations []corev1.Toleration
	// Scheduler options: weights, tenant isolation, backfill.
	Scheduler scheduler.Options
	// IDMapperURL, if set, is an id-mapper (clusteragent/idmapper) asked
	// for the uid/gid of job owners whose user record has none.
	IDMapperURL string
	// Heartbeat of the status push (default 2 s).
	Heartbeat time.Duration
	// MetricsAddr, if set, is where the agent serves its Prometheus
	// metrics at /metrics (host:port; port 0 picks one, see MetricsAddr).
	MetricsAddr string
	// Elastic, if set, resizes the cloud's node groups for the jobs that
	// wait for them and reports how far they can grow.
	Elastic *Elastic
	// WithoutFeatures are runtime features (runtime.Features) the agent
	// does not report to the hub although it implements them. For tests
	// only: it stands in for an agent of an older release, which the hub
	// then keeps jobs needing those features away from. No flag sets it.
	WithoutFeatures []structs.AgentFeature
	// Adjust lets the caller adjust the cluster half's configuration
	// (runtime options, filer) before it starts.
	Adjust func(*ClusterConfig)
	Log    *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Agent is a running agent: the cluster half and the hub sync.
type Agent struct {
	Cluster *Cluster
	Syncer  *hubsync.Syncer
	Hub     *client.Client
	// Exports carries out the hub's vault exports on this cluster.
	Exports *vaultexport.Syncer
	// Catalog keeps the hub's apps' images on this cluster (nil when off).
	Catalog *prepull.Syncer

	metrics   *metrics
	elastic   *elasticLoop // nil without Config.Elastic
	metricsLn net.Listener // nil without Config.MetricsAddr
	log       *slog.Logger
}

// MetricsAddr is the address the agent serves /metrics on, nil without
// Config.MetricsAddr.
func (a *Agent) MetricsAddr() net.Addr {
	if a.metricsLn == nil {
		return nil
	}
	return a.metricsLn.Addr()
}

// New builds an agent from cfg.
func New(cfg Config) (*Agent, error) {
	if cfg.AgentKey == "" && cfg.BootstrapToken != "" && cfg.Cluster != "" && len(cfg.HubURLs) > 0 {
		key, err := register(cfg)
		if err != nil {
			return nil, err
		}
		cfg.AgentKey = key
	}
	hubTLS, err := hubTLSConfig(cfg.HubCAFile)
	if err != nil {
		return nil, err
	}
	if cfg.Cluster == "" || len(cfg.HubURLs) == 0 || cfg.AgentKey == "" || cfg.Kube == nil {
		return nil, errors.New("agent: cluster, hub URLs, an agent key (or bootstrap token) and kubeconfig are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	kc, err := kubernetes.NewForConfig(cfg.Kube)
	if err != nil {
		return nil, err
	}
	hub, err := client.New(cfg.HubURLs, cfg.AgentKey, client.WithTLS(hubTLS))
	if err != nil {
		return nil, err
	}
	var sel labels.Selector
	if strings.TrimSpace(cfg.NodeSelector) != "" {
		if sel, err = labels.Parse(cfg.NodeSelector); err != nil {
			return nil, fmt.Errorf("agent: node selector: %w", err)
		}
	}
	out := &Agent{Hub: hub, metrics: newMetrics(cfg.Cluster), log: cfg.Log}
	ccfg := ClusterConfig{
		Client: kc, Cluster: cfg.Cluster, NamespacePrefix: cfg.NamespacePrefix, Image: cfg.Image, Scheduler: cfg.Scheduler, NodeSelector: sel,
		Tolerations: cfg.Tolerations, ExtraNamespaces: cfg.ExtraNamespaces,
		Log: cfg.Log.With("cluster", cfg.Cluster), Now: cfg.Now,
		Report: func(u structs.JobStateUpdate) { out.Syncer.Report(u) },
	}
	cfg.Network.apply(&ccfg, apiServerCIDRs(kc, cfg.Kube.Host, ccfg.Log))
	if cfg.Adjust != nil {
		cfg.Adjust(&ccfg)
	}
	c := NewCluster(ccfg)
	c.Loop.OnCycle, c.Loop.OnBind = out.metrics.observeCycle, out.metrics.observeBind
	out.Cluster = c
	if cfg.Elastic != nil {
		if cfg.Elastic.Cloud == nil {
			return nil, errors.New("agent: elastic node groups need the cloud's node groups")
		}
		out.elastic = newElasticLoop(*cfg.Elastic, c.Cache, ccfg.Log, cfg.Now, out.metrics, func(pending map[uint64]bool) bool {
			for n, s := range c.Jobs.States() {
				if s == structs.JobAssigned && !pending[n] {
					return true
				}
			}
			return false
		})
	}
	if cfg.MetricsAddr != "" {
		if out.metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return nil, fmt.Errorf("agent: metrics listener: %w", err)
		}
	}
	var identity func(context.Context, string) (structs.Identity, bool, error)
	if cfg.IDMapperURL != "" {
		identity = (&idmapper.Client{Base: strings.TrimRight(cfg.IDMapperURL, "/"), Log: ccfg.Log.With("component", "idmapper")}).Lookup
	}
	if !ccfg.NoPrePull {
		out.Catalog = &prepull.Syncer{Hub: hub, Cluster: cfg.Cluster, Kube: kc, NodeSelector: sel, Options: ccfg.PrePull,
			Nodes: prepullNodes(c.Cache), PodInformer: c.PodInformer(),
			Now: cfg.Now, Log: ccfg.Log.With("component", "prepull"),
			MachineTypes: func() []*structs.MachineType { return out.Syncer.MachineTypes() }}
	}
	var catalog func() *structs.ClusterCatalog
	if out.Catalog != nil {
		catalog = out.Catalog.Report
	}
	out.Syncer = hubsync.New(hubsync.Config{
		Agent:    &structs.AgentInfo{Version: version.Version, Features: runtime.Features(cfg.WithoutFeatures...)},
		Catalog:  catalog,
		Identity: identity,
		Hub:      hub, Cluster: cfg.Cluster, Runner: c.Jobs, Heartbeat: cfg.Heartbeat, Log: ccfg.Log, Now: cfg.Now,
		Capacity: func(mts []*structs.MachineType) map[string]structs.Capacity {
			if !c.Cache.Synced() {
				return nil // not yet known: report none rather than zero
			}
			snap, _, _ := c.Cache.Snapshot()
			cp := podgroup.Capacity(snap, mts, podgroup.Options{Namespace: "capacity", Image: cfg.Image, Tolerations: cfg.Tolerations}, cfg.Scheduler)
			if out.elastic != nil {
				cp = withGrow(cp, out.elastic.Grow(snap))
			}
			return cp
		},
		Why: func(number uint64) (string, bool) {
			if out.elastic != nil {
				if ns, ok := c.Jobs.NamespaceOf(number); ok {
					if r, ok := out.elastic.Reason(cache.GangID{Namespace: ns, Number: number}); ok {
						return r, true
					}
				}
			}
			p, ok := c.Why(number)
			return p.Reason, ok
		},
	})
	prefix := cfg.NamespacePrefix
	if prefix == "" {
		prefix = podgroup.DefaultNamespacePrefix
	}
	out.Exports = &vaultexport.Syncer{Hub: hub, Kube: kc, Cluster: cfg.Cluster, Log: ccfg.Log,
		Namespace: func(tenant string) string { return podgroup.TenantNamespace(prefix, tenant) }}
	return out, nil
}

// Run runs the agent until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	if a.metricsLn != nil {
		srv := &http.Server{Handler: a.metrics.handler(), ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
		go func() {
			if err := srv.Serve(a.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Warn("metrics listener", "error", err)
			}
		}()
		defer srv.Close()
	}
	errc := make(chan error, 1)
	go func() { errc <- a.Cluster.Run(ctx) }()
	go a.Exports.Run(ctx)
	if a.Catalog != nil {
		go a.Catalog.Run(ctx)
	}
	var elasticDone chan struct{}
	if a.elastic != nil {
		elasticDone = make(chan struct{})
		go func() { defer close(elasticDone); a.elastic.Run(ctx) }()
	}
	a.Syncer.Run(ctx)
	err := <-errc
	if elasticDone != nil {
		<-elasticDone
	}
	return err
}

// hubTLSConfig trusts the CA in caFile, or the system's CAs when there is
// none.
func hubTLSConfig(caFile string) (*tls.Config, error) {
	if caFile == "" {
		return nil, nil
	}
	if _, err := os.Stat(caFile); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	tc, err := hubtls.ClientFromCAFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("agent: hub CA: %w", err)
	}
	return tc, nil
}
