// Command flotilla-agent runs Flotilla's agent for one Kubernetes cluster: it
// takes the hub's assignments for the cluster, gang-schedules their pods and
// runs them, and reports back. Flags configure it; the work is in
// clusteragent/agentd.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/clusteragent/agentd"
	"github.com/flotilla-hpc/flotilla/clusteragent/scheduler"
	"github.com/flotilla-hpc/flotilla/internal/version"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "flotilla-agent:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		cluster   = flag.String("cluster", "", "this cluster's name at the hub (required)")
		hubs      = flag.String("hub", os.Getenv("FLOTILLA_HUB"), "comma-separated hub URLs (env FLOTILLA_HUB)")
		keyFile   = flag.String("agent-key-file", "", "file holding the cluster's agent key (else env FLOTILLA_AGENT_KEY); written after registration")
		bootFile  = flag.String("bootstrap-token-file", "", "file holding a one-time bootstrap token, used when no agent key exists yet")
		caFile    = flag.String("hub-ca-file", "", "CA file the hub's certificate is checked against; written on first contact when the bootstrap token pins the hub's CA")
		kubecfg   = flag.String("kubeconfig", "", "kubeconfig of the cluster (default: in-cluster config)")
		namespace = flag.String("namespace", "flotilla-jobs", "namespace the jobs run in")
		extraNS   = flag.String("schedule-namespaces", "", "comma-separated further namespaces whose gangs the agent schedules")
		image     = flag.String("image", "", "default app image")
		nodeSel   = flag.String("node-selector", "", "label selector of the nodes this agent uses")
		tolerate  = flag.String("tolerate", "", "taints job pods tolerate, key=value:Effect,... (dedicated node pools)")
		isolation = flag.Bool("tenant-isolation", false, "keep different tenants' pods off the same node")
		backfill  = flag.Bool("backfill", false, "let smaller jobs run around a blocked queue head")
		weights   = flag.String("weights", "", "resource weights for best fit, e.g. cpu=1,memory=1,nvidia.com/gpu=8")
		idmapURL  = flag.String("idmapper", "", "id-mapper URL for job owners without a uid/gid (flotilla-idmapper)")
		heartbeat = flag.Duration("heartbeat", 2*time.Second, "longest gap between status pushes")
		qps       = flag.Float64("kube-api-qps", 5000, "client QPS towards the API server")
		burst     = flag.Int("kube-api-burst", 10000, "client burst towards the API server")
		initImage = flag.String("init-image", version.Image("flotilla-init"), "image holding flotilla-init, run as every job pod's init container")
		filerImg  = flag.String("filer-image", version.Image("flotilla-filer"), "NFS server image of the filers serving ReadWriteOnce vaults")
		showVer   = flag.Bool("version", false, "print the version and exit")
	)
	flag.Parse()
	if *showVer {
		fmt.Println(version.String("flotilla-agent"))
		return nil
	}
	key := os.Getenv("FLOTILLA_AGENT_KEY")
	if *keyFile != "" {
		b, err := os.ReadFile(*keyFile)
		if err != nil && !(os.IsNotExist(err) && *bootFile != "") {
			return err
		}
		if k := strings.TrimSpace(string(b)); k != "" {
			key = k
		}
	}
	var bootToken string
	if *bootFile != "" && key == "" {
		b, err := os.ReadFile(*bootFile)
		if err != nil {
			return err
		}
		bootToken = strings.TrimSpace(string(b))
	}
	var kube *rest.Config
	var err error
	if *kubecfg != "" {
		kube, err = clientcmd.BuildConfigFromFlags("", *kubecfg)
	} else {
		kube, err = rest.InClusterConfig()
	}
	if err != nil {
		return fmt.Errorf("kubernetes config: %w", err)
	}
	kube.QPS, kube.Burst = float32(*qps), *burst
	w, err := agentd.ParseWeights(*weights)
	if err != nil {
		return err
	}
	tols, err := agentd.ParseTolerations(*tolerate)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	a, err := agentd.New(agentd.Config{
		Cluster: *cluster, HubURLs: splitList(*hubs), AgentKey: key, BootstrapToken: bootToken, KeyFile: *keyFile, HubCAFile: *caFile,
		Kube: kube, Namespace: *namespace, ExtraNamespaces: splitList(*extraNS),
		Image: *image, NodeSelector: *nodeSel, Tolerations: tols, IDMapperURL: *idmapURL, Heartbeat: *heartbeat, Log: log,
		Scheduler: scheduler.Options{TenantIsolation: *isolation, Backfill: *backfill, Weights: w},
		Agent: func(c *agent.Config) {
			c.Runtime.InitImage = *initImage
			c.Filer.Image = *filerImg
		},
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("agent starting", "version", version.Version, "cluster", *cluster, "namespace", *namespace,
		"init_image", *initImage, "filer_image", *filerImg)
	return a.Run(ctx)
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
