package hub

import (
	"context"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"

	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/cloud/agentinstall"
	"github.com/flotilla-hpc/flotilla/federation/cloud/capi"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// ClusterAPIOptions configure Cluster API discovery (federation/cloud/capi).
type ClusterAPIOptions struct {
	// Management reaches the management cluster (-capi-kubeconfig).
	Management *rest.Config
	// Selector chooses its Clusters (-capi-selector); Namespace limits
	// them to one namespace ("" for all, -capi-namespace).
	Selector  labels.Selector
	Namespace string
	// Agent is the agent install's values: HubURLs (-capi-agent-hub-url)
	// are required; the rest take the chart's defaults.
	Agent agentinstall.Values
	// Resync and ReinstallAfter: see capi.Config.
	Resync, ReinstallAfter time.Duration
}

// ClusterAPIUser is the name the discovery controller acts under at the
// hub (a global administrator of the system tenant, inside this replica
// only: it has no credentials anyone could present).
const ClusterAPIUser = "cluster-api-discovery"

// runClusterAPI runs Cluster API discovery until the replica stops; it
// acts only while this replica leads. It calls the replica's own API in
// process, so its writes take the path, checks and audit of any
// administrator's.
func (h *Hub) runClusterAPI() {
	defer close(h.capiDone)
	o := h.cfg.ClusterAPI
	if o == nil {
		return
	}
	system := h.cfg.Auth.SystemTenant
	if system == "" {
		system = auth.DefaultSystemTenant
	}
	id := &authz.Identity{Username: ClusterAPIUser, Tenant: system, Role: structs.RoleAdmin, Global: true}
	hc, err := client.New([]string{"http://hub.invalid"}, "",
		client.WithHTTPClient(&http.Client{Transport: h.apiAs(id)}),
		client.WithRetryTimeout(30*time.Second))
	if err != nil {
		h.log.Error("cluster api discovery", "err", err)
		return
	}
	c, err := capi.New(capi.Config{Management: o.Management, Selector: o.Selector, Namespace: o.Namespace, Hub: hc,
		Agent: o.Agent, Leader: h.node.IsLeader, Resync: o.Resync, ReinstallAfter: o.ReinstallAfter,
		Now: h.now, Log: h.log.With("component", "capi")})
	if err != nil {
		h.log.Error("cluster api discovery", "err", err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-h.stopped
		cancel()
	}()
	c.Run(ctx)
}

// apiAs is a transport that serves a client's requests with the replica's
// API as id, without a socket.
func (h *Hub) apiAs(id *authz.Identity) http.RoundTripper {
	return client.HandlerTransport(func(w http.ResponseWriter, r *http.Request) { h.api.ServeAs(w, r, id) })
}
