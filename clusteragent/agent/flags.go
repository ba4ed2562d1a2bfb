package agent

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/prepull"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
	"github.com/flotilla-hpc/flotilla/internal/version"
)

// Flags are flotilla-agent's command-line settings; Config turns them into
// a Config.
type Flags struct {
	Cluster            string
	Hubs               string
	KeyFile            string
	BootstrapTokenFile string
	HubCAFile          string
	Kubeconfig         string
	NamespacePrefix    string
	ExtraNamespaces    string
	JobsDomain         string
	IngressClass       string
	IngressTLSSecret   string
	IngressNamespace   string
	EgressAllow        string
	EgressDeny         string
	NodeCIDRs          string
	Image              string
	NodeSelector       string
	Tolerate           string
	TenantIsolation    bool
	Backfill           bool
	CreateUnbound      bool
	PodSecurity        string
	Weights            string
	IDMapper           string
	Heartbeat          time.Duration
	MetricsAddr        string
	LogFormat          string
	KubeQPS            float64
	KubeBurst          int
	InitImage          string
	FilerImage         string
	PrePull            bool
	PrePullNamespace   string
	LiveTailEvery      time.Duration
	// Elastic node groups (the cloud's client is made by the command
	// from these: federation/cloud/connect).
	ElasticCloud    string
	ElasticCluster  string
	ElasticRegion   string
	ElasticProject  string
	ElasticEndpoint string
	ElasticGroups   string
	ElasticIdle     time.Duration
	ElasticInterval time.Duration
	ElasticPoll     time.Duration
}

// Register defines the flags on fs; getenv supplies the defaults taken
// from the environment (FLOTILLA_HUB).
func (f *Flags) Register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&f.Cluster, "cluster", "", "this cluster's name at the hub (required)")
	fs.StringVar(&f.Hubs, "hub", getenv("FLOTILLA_HUB"), "comma-separated hub URLs (env FLOTILLA_HUB)")
	fs.StringVar(&f.KeyFile, "agent-key-file", "", "file holding the cluster's agent key (else env FLOTILLA_AGENT_KEY); written after registration")
	fs.StringVar(&f.BootstrapTokenFile, "bootstrap-token-file", "", "file holding a one-time bootstrap token, used when no agent key exists yet")
	fs.StringVar(&f.HubCAFile, "hub-ca-file", "", "CA file the hub's certificate is checked against; written on first contact when the bootstrap token pins the hub's CA")
	fs.StringVar(&f.Kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: in-cluster config)")
	fs.StringVar(&f.NamespacePrefix, "namespace-prefix", podgroup.DefaultNamespacePrefix, "each tenant's jobs run in its own namespace, PREFIX-<tenant>-<hash>, made by the agent")
	fs.StringVar(&f.JobsDomain, "jobs-domain", "", "DNS zone of interactive jobs: job N is reached at jN.DOMAIN through its token guard (empty: no interactive jobs)")
	fs.StringVar(&f.IngressClass, "ingress-class", "", "IngressClassName of interactive jobs' Ingresses (empty: the cluster default)")
	fs.StringVar(&f.IngressTLSSecret, "ingress-tls-secret", "", "Secret holding a wildcard certificate for the jobs domain (empty: plain HTTP)")
	fs.StringVar(&f.IngressNamespace, "ingress-namespace", runtime.DefaultIngressNamespace, "namespace of the ingress controller, the only one that reaches an interactive job's token guard")
	fs.StringVar(&f.EgressAllow, "egress-allow", "", "comma-separated CIDRs job pods may reach besides their own job and cluster DNS (e.g. a license server)")
	fs.StringVar(&f.EgressDeny, "egress-deny", "", "comma-separated CIDRs job pods never reach, even inside -egress-allow (the metadata address and the API server are always added)")
	fs.StringVar(&f.NodeCIDRs, "node-cidrs", "", "comma-separated CIDRs of the nodes: the kubelets that mount a filer's export")
	fs.StringVar(&f.ExtraNamespaces, "schedule-namespaces", "", "comma-separated further namespaces whose gangs the agent schedules")
	fs.StringVar(&f.Image, "image", "", "default app image")
	fs.StringVar(&f.NodeSelector, "node-selector", "", "label selector of the nodes this agent uses")
	fs.StringVar(&f.Tolerate, "tolerate", "", "taints job pods tolerate, key=value:Effect,... (dedicated node pools)")
	fs.BoolVar(&f.TenantIsolation, "tenant-isolation", false, "keep different tenants' pods off the same node")
	fs.BoolVar(&f.Backfill, "backfill", false, "let smaller jobs run around a blocked queue head")
	fs.StringVar(&f.PodSecurity, "pod-security", runtime.DefaultPodSecurity, "Pod Security Admission level enforced on the tenant namespaces: restricted, baseline (NFS mounts), privileged (host path mounts and binds) or off (the labels are the cluster admins'); warn and audit stay restricted")
	fs.BoolVar(&f.CreateUnbound, "create-unbound", false, "create the agent's own job pods unbound and bind them (default: a gang that fits now is created with its nodes set, one write per pod)")
	fs.StringVar(&f.Weights, "weights", "", "resource weights for best fit, e.g. cpu=1,memory=1,nvidia.com/gpu=8")
	fs.StringVar(&f.IDMapper, "idmapper", "", "id-mapper URL for job owners without a uid/gid (flotilla-idmapper)")
	fs.StringVar(&f.LogFormat, "log-format", "", "text or json (default json, text on a terminal)")
	fs.StringVar(&f.MetricsAddr, "metrics-addr", ":9460", "host:port of the Prometheus metrics endpoint /metrics (empty: none)")
	fs.DurationVar(&f.Heartbeat, "heartbeat", 2*time.Second, "longest gap between status pushes")
	fs.Float64Var(&f.KubeQPS, "kube-api-qps", 5000, "client QPS towards the API server")
	fs.IntVar(&f.KubeBurst, "kube-api-burst", 10000, "client burst towards the API server")
	fs.StringVar(&f.InitImage, "init-image", version.Image("flotilla-init"), "image holding flotilla-init, run as every job pod's init container")
	fs.BoolVar(&f.PrePull, "prepull", true, "pre-pull the catalog's app images onto the nodes they run on and report where they cannot run")
	fs.DurationVar(&f.LiveTailEvery, "live-tail-every", runtime.DefaultLiveTailEvery, "how often a running job's log tail is read and, when it changed, reported (/jarvice/tail); negative: never")
	fs.StringVar(&f.PrePullNamespace, "prepull-namespace", prepull.DefaultNamespace, "namespace of the short-lived pull pods (created when missing)")
	fs.StringVar(&f.ElasticCloud, "elastic-cloud", "", "eks or gke: resize this cluster's node groups on demand (-elastic-groups), with the cloud's default credentials (EKS Pod Identity/IRSA, GKE Workload Identity)")
	fs.StringVar(&f.ElasticCluster, "elastic-cluster", "", "the cluster's name in the cloud (default -cluster)")
	fs.StringVar(&f.ElasticRegion, "elastic-region", "", "AWS region or GKE location of the cluster")
	fs.StringVar(&f.ElasticProject, "elastic-project", "", "GKE project of the cluster")
	fs.StringVar(&f.ElasticEndpoint, "elastic-endpoint", "", "cloud API endpoint instead of the public one (http:// only on loopback)")
	fs.StringVar(&f.ElasticGroups, "elastic-groups", "", "elastic node groups, group=machine-type:min:max,...")
	fs.DurationVar(&f.ElasticIdle, "elastic-idle", 10*time.Minute, "a node group that runs no job this long shrinks to its minimum")
	fs.DurationVar(&f.ElasticInterval, "elastic-interval", 5*time.Second, "how often the agent decides the node groups' sizes")
	fs.DurationVar(&f.ElasticPoll, "elastic-poll", 0, "how often a resize asks the cloud for progress (default: the provider's)")
	fs.StringVar(&f.FilerImage, "filer-image", version.Image("flotilla-filer"), "NFS server image of the filers serving ReadWriteOnce vaults")
}

// Config reads the files the flags name (agent key, bootstrap token,
// kubeconfig) and returns the agent's configuration. getenv supplies
// FLOTILLA_AGENT_KEY.
func (f *Flags) Config(getenv func(string) string, log *slog.Logger) (Config, error) {
	key := getenv("FLOTILLA_AGENT_KEY")
	if f.KeyFile != "" {
		b, err := os.ReadFile(f.KeyFile)
		if err != nil && !(errors.Is(err, os.ErrNotExist) && f.BootstrapTokenFile != "") {
			return Config{}, err
		}
		if k := strings.TrimSpace(string(b)); k != "" {
			key = k
		}
	}
	var bootToken string
	if f.BootstrapTokenFile != "" && key == "" {
		b, err := os.ReadFile(f.BootstrapTokenFile)
		if err != nil {
			return Config{}, err
		}
		bootToken = strings.TrimSpace(string(b))
	}
	if err := podgroup.CheckNamespacePrefix(f.NamespacePrefix); err != nil {
		return Config{}, err
	}
	if err := runtime.CheckPodSecurity(f.PodSecurity); err != nil {
		return Config{}, err
	}
	nw := Network{
		JobsDomain: f.JobsDomain, IngressClass: f.IngressClass, IngressTLSSecret: f.IngressTLSSecret, IngressNamespace: f.IngressNamespace,
		EgressAllow: splitList(f.EgressAllow), EgressDeny: splitList(f.EgressDeny), NodeCIDRs: splitList(f.NodeCIDRs),
	}
	if err := nw.check(); err != nil {
		return Config{}, err
	}
	var el *Elastic
	if f.ElasticCloud != "" || f.ElasticGroups != "" {
		groups, err := ParseElasticGroups(f.ElasticGroups)
		if err != nil {
			return Config{}, err
		}
		switch {
		case f.ElasticCloud != "eks" && f.ElasticCloud != "gke":
			return Config{}, fmt.Errorf("-elastic-cloud %q: want eks or gke", f.ElasticCloud)
		case len(groups) == 0:
			return Config{}, errors.New("-elastic-cloud needs -elastic-groups")
		case f.ElasticRegion == "":
			return Config{}, errors.New("-elastic-cloud needs -elastic-region")
		case f.ElasticCloud == "gke" && f.ElasticProject == "":
			return Config{}, errors.New("-elastic-cloud gke needs -elastic-project")
		case f.ElasticIdle <= 0 || f.ElasticInterval <= 0:
			return Config{}, errors.New("-elastic-idle and -elastic-interval must be positive")
		}
		el = &Elastic{Groups: groups, IdleTime: f.ElasticIdle, Interval: f.ElasticInterval}
	}
	var kube *rest.Config
	var err error
	if f.Kubeconfig != "" {
		kube, err = clientcmd.BuildConfigFromFlags("", f.Kubeconfig)
	} else {
		kube, err = rest.InClusterConfig()
	}
	if err != nil {
		return Config{}, fmt.Errorf("kubernetes config: %w", err)
	}
	kube.QPS, kube.Burst = float32(f.KubeQPS), f.KubeBurst
	WireConfig(kube)
	w, err := ParseWeights(f.Weights)
	if err != nil {
		return Config{}, err
	}
	tols, err := ParseTolerations(f.Tolerate)
	if err != nil {
		return Config{}, err
	}
	return Config{
		Elastic: el,
		Cluster: f.Cluster, HubURLs: splitList(f.Hubs), AgentKey: key, BootstrapToken: bootToken, KeyFile: f.KeyFile, HubCAFile: f.HubCAFile,
		Kube: kube, NamespacePrefix: f.NamespacePrefix, ExtraNamespaces: splitList(f.ExtraNamespaces), Network: nw,
		Image: f.Image, NodeSelector: f.NodeSelector, Tolerations: tols, IDMapperURL: f.IDMapper,
		Heartbeat: f.Heartbeat, MetricsAddr: f.MetricsAddr, Log: log,
		Scheduler: scheduler.Options{TenantIsolation: f.TenantIsolation, Backfill: f.Backfill, Weights: w},
		Adjust: func(c *ClusterConfig) {
			c.Runtime.InitImage = f.InitImage
			c.Filer.Image = f.FilerImage
			c.NoPrePull, c.PrePull.Namespace = !f.PrePull, f.PrePullNamespace
			c.LiveTailEvery = f.LiveTailEvery
			c.CreateUnbound = f.CreateUnbound
			c.Runtime.PodSecurity = f.PodSecurity
		},
	}, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Logger returns the agent's logger on w in -log-format: JSON unless
// asked for text, or by default when w is a terminal.
func (f *Flags) Logger(w io.Writer) (*slog.Logger, error) {
	asJSON := true
	switch f.LogFormat {
	case "json":
	case "text":
		asJSON = false
	case "":
		if file, ok := w.(*os.File); ok {
			if fi, err := file.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				asJSON = false
			}
		}
	default:
		return nil, fmt.Errorf("log format %q: want text or json", f.LogFormat)
	}
	if asJSON {
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return slog.New(slog.NewTextHandler(w, nil)), nil
}

// ParseWeights reads the scheduler's resource weights written as "cpu=1,memory=0.5,
// nvidia.com/gpu=8". An empty string gives nil (the defaults).
func ParseWeights(s string) (map[string]float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	out := map[string]float64{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("weights: %q is not resource=weight", kv)
		}
		w, err := strconv.ParseFloat(v, 64)
		if err != nil || w < 0 {
			return nil, fmt.Errorf("weights: %q: weight must be a non-negative number", kv)
		}
		out[k] = w
	}
	return out, nil
}

// ParseTolerations reads tolerations written as "key=value:Effect" or
// "key:Effect" (any value), comma-separated.
func ParseTolerations(s string) ([]corev1.Toleration, error) {
	var out []corev1.Toleration
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		kv, effect, ok := strings.Cut(item, ":")
		if !ok || kv == "" {
			return nil, fmt.Errorf("toleration %q: want key=value:Effect", item)
		}
		switch corev1.TaintEffect(effect) {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return nil, fmt.Errorf("toleration %q: effect must be NoSchedule, PreferNoSchedule or NoExecute", item)
		}
		t := corev1.Toleration{Effect: corev1.TaintEffect(effect), Operator: corev1.TolerationOpExists, Key: kv}
		if k, v, hasValue := strings.Cut(kv, "="); hasValue {
			t.Key, t.Value, t.Operator = k, v, corev1.TolerationOpEqual
		}
		out = append(out, t)
	}
	return out, nil
}
