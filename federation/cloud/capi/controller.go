package capi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/cloud/agentinstall"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Hub is what the controller needs of the hub; *client.Client has it.
type Hub interface {
	ListClusters(ctx context.Context) ([]*structs.Cluster, error)
	ListMachineTypes(ctx context.Context) ([]*structs.MachineType, error)
	PutCluster(ctx context.Context, name string, spec *structs.ClusterSpec, opts ...client.WriteOption) (*structs.Cluster, error)
	DeleteCluster(ctx context.Context, name string, opts ...client.WriteOption) error
	PutMachineType(ctx context.Context, m *structs.MachineType, opts ...client.WriteOption) (*structs.MachineType, error)
	DeleteMachineType(ctx context.Context, name string, opts ...client.WriteOption) error
	CreateBootstrapToken(ctx context.Context, cluster string) (*structs.APIKeyCreated, error)
}

// Config configures a Controller.
type Config struct {
	// Management reaches the Cluster API management cluster.
	Management *rest.Config
	// Selector chooses the Clusters (a label selector, e.g. flotilla.io/join=true).
	Selector labels.Selector
	// Namespace limits the Clusters to one namespace ("" for all).
	Namespace string
	// Hub is the hub the clusters are registered with.
	Hub Hub
	// Agent is the agent install's values; Cluster and BootstrapToken are
	// set per cluster. HubURLs (as the clusters reach the hub) are required.
	Agent agentinstall.Values
	// Leader reports whether this replica leads; the controller acts only
	// then (nil: always).
	Leader func() bool
	// Resync is the longest gap between passes (default 30 s); a change
	// to a Cluster or MachineDeployment starts a pass at once.
	Resync time.Duration
	// ReinstallAfter: an agent that has not registered this long after its
	// install is installed again with a new token (default 5 min).
	ReinstallAfter time.Duration
	Now            func() time.Time
	Log            *slog.Logger
	// Install installs the agent into a cluster (default agentinstall.Install).
	Install func(ctx context.Context, cfg *rest.Config, v agentinstall.Values) error
}

// Controller registers the selected Cluster API Clusters with the hub.
type Controller struct {
	cfg       Config
	mgmt      *mgmt
	installed map[string]time.Time
}

// New checks cfg and returns a controller; Run runs it.
func New(cfg Config) (*Controller, error) {
	if cfg.Management == nil || cfg.Hub == nil || cfg.Selector == nil {
		return nil, errors.New("capi: management cluster, hub and selector are required")
	}
	if len(cfg.Agent.HubURLs) == 0 {
		return nil, errors.New("capi: the hub URLs the agents use are required")
	}
	if cfg.Resync <= 0 {
		cfg.Resync = 30 * time.Second
	}
	if cfg.ReinstallAfter <= 0 {
		cfg.ReinstallAfter = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Leader == nil {
		cfg.Leader = func() bool { return true }
	}
	if cfg.Install == nil {
		cfg.Install = agentinstall.Install
	}
	dyn, err := dynamic.NewForConfig(cfg.Management)
	if err != nil {
		return nil, err
	}
	return &Controller{cfg: cfg, mgmt: &mgmt{dyn: dyn, namespace: cfg.Namespace, selector: cfg.Selector},
		installed: map[string]time.Time{}}, nil
}

// Run makes passes until ctx ends: at once, after every change the watches
// on Clusters and MachineDeployments report, and every Resync.
func (c *Controller) Run(ctx context.Context) {
	changed := make(chan struct{}, 1)
	stopWatch := func() {}
	defer func() { stopWatch() }()
	tick := time.NewTicker(c.cfg.Resync)
	defer tick.Stop()
	for {
		if c.cfg.Leader() {
			rv, err := c.Pass(ctx)
			if err != nil && ctx.Err() == nil {
				c.cfg.Log.Warn("cluster api discovery pass", "err", err)
			}
			if err == nil {
				// Watch from the listing's versions; any event starts the
				// next pass, which opens new watches.
				stopWatch()
				wctx, cancel := context.WithCancel(ctx)
				stopWatch = cancel
				c.watch(wctx, rv, changed)
			}
		} else {
			c.installed = map[string]time.Time{} // a new leader term starts afresh
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		}
	}
}

// watch signals changed on the first event of either watch.
func (c *Controller) watch(ctx context.Context, rv [2]string, changed chan<- struct{}) {
	for i, w := range []struct {
		ri  dynamic.ResourceInterface
		sel string
	}{
		{c.mgmt.dyn.Resource(clustersGVR).Namespace(c.mgmt.namespace), c.mgmt.selector.String()},
		{c.mgmt.dyn.Resource(machineDeploymentsGVR).Namespace(c.mgmt.namespace), ""},
	} {
		wi, err := w.ri.Watch(ctx, metav1.ListOptions{ResourceVersion: rv[i], LabelSelector: w.sel, AllowWatchBookmarks: false})
		if err != nil {
			c.cfg.Log.Warn("cluster api discovery watch", "err", err)
			continue
		}
		go func(wi watch.Interface) {
			defer wi.Stop()
			select {
			case <-ctx.Done():
			case _, ok := <-wi.ResultChan():
				_ = ok // an event or a closed watch: either way, look again
				select {
				case changed <- struct{}{}:
				default:
				}
			}
		}(wi)
	}
}

// Pass observes the management cluster and the hub once, decides and
// carries out the actions. It returns the listing's resource versions.
func (c *Controller) Pass(ctx context.Context) ([2]string, error) {
	clusters, mds, rv, err := c.mgmt.list(ctx)
	if err != nil {
		return rv, err
	}
	in := Input{Installed: c.installed, ReinstallAfter: c.cfg.ReinstallAfter, Now: c.cfg.Now(),
		Clusters: map[string]*structs.Cluster{}, MachineTypes: map[string]*structs.MachineType{}}
	kubeconfigs := map[string][]byte{}
	for _, cl := range clusters {
		kc, found, err := c.mgmt.kubeconfig(ctx, cl)
		if err != nil {
			return rv, err
		}
		kubeconfigs[cl.Name] = kc
		in.Observed = append(in.Observed, observe(cl, mds[cl.Namespace+"/"+cl.Name], found))
	}
	hcs, err := c.cfg.Hub.ListClusters(ctx)
	if err != nil {
		return rv, fmt.Errorf("list hub clusters: %w", err)
	}
	for _, hc := range hcs {
		in.Clusters[hc.Name] = hc
	}
	mts, err := c.cfg.Hub.ListMachineTypes(ctx)
	if err != nil {
		return rv, fmt.Errorf("list hub machine types: %w", err)
	}
	for _, mt := range mts {
		in.MachineTypes[mt.Name] = mt
	}
	byCluster := map[string][]Action{}
	errOf := map[string]error{}
	var errs []error
	for _, a := range Decide(in) {
		byCluster[a.Source] = append(byCluster[a.Source], a)
		if errOf[a.Source] != nil {
			continue
		}
		if err := c.do(ctx, a, kubeconfigs[a.Cluster]); err != nil {
			errOf[a.Source] = err
			errs = append(errs, fmt.Errorf("cluster %s (%s): %s: %w", a.Cluster, a.Source, a.Kind, err))
		}
	}
	// Say on each Cluster where its joining stands.
	for _, cl := range clusters {
		src := cl.Namespace + "/" + cl.Name
		hc := in.Clusters[cl.Name]
		registered := hc != nil && hc.AgentKey != (structs.APIKeyHash{})
		if err := c.mgmt.setStatus(ctx, cl, statusOf(byCluster[src], errOf[src], registered)); err != nil {
			errs = append(errs, fmt.Errorf("status of Cluster %s: %w", src, err))
		}
	}
	return rv, errors.Join(errs...)
}

func (c *Controller) do(ctx context.Context, a Action, kubeconfig []byte) error {
	log := c.cfg.Log.With("cluster", a.Cluster, "source", a.Source)
	switch a.Kind {
	case Wait:
		log.Debug("cluster api cluster not ready", "reason", a.Reason)
	case Refuse:
		log.Warn("cluster api cluster not registered as asked", "reason", a.Reason)
	case Register:
		if _, err := c.cfg.Hub.PutCluster(ctx, a.Cluster, &structs.ClusterSpec{Labels: a.Labels}); err != nil {
			return err
		}
		log.Info("registered cluster api cluster at the hub")
	case PutMachineType:
		if _, err := c.cfg.Hub.PutMachineType(ctx, a.MachineType); err != nil {
			return err
		}
		log.Info("machine type from MachineDeployment", "machine_type", a.MachineType.Name)
	case DeleteMachineType:
		if err := c.cfg.Hub.DeleteMachineType(ctx, a.Name, client.Force()); err != nil && !errors.Is(err, structs.ErrNotFound) {
			return err
		}
		log.Info("machine type removed", "machine_type", a.Name)
	case Unregister:
		if err := c.cfg.Hub.DeleteCluster(ctx, a.Cluster); err != nil && !errors.Is(err, structs.ErrNotFound) {
			return err
		}
		delete(c.installed, a.Cluster)
		log.Info("unregistered cluster api cluster", "reason", a.Reason)
	case InstallAgent:
		return c.install(ctx, a, kubeconfig, log)
	}
	return nil
}

func (c *Controller) install(ctx context.Context, a Action, kubeconfig []byte, log *slog.Logger) error {
	rc, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig of the cluster: %w", err)
	}
	tok, err := c.cfg.Hub.CreateBootstrapToken(ctx, a.Cluster)
	if err != nil {
		return fmt.Errorf("bootstrap token: %w", err)
	}
	v := c.cfg.Agent
	v.Cluster, v.BootstrapToken = a.Cluster, tok.Key
	if err := c.cfg.Install(ctx, rc, v); err != nil {
		return fmt.Errorf("install the agent: %w", err)
	}
	c.installed[a.Cluster] = c.cfg.Now()
	log.Info("installed the agent", "namespace", v.Namespace)
	return nil
}
