package hub

import (
	"bytes"
	"context"
	"io"
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
		client.WithHTTPClient(&http.Client{Transport: asIdentity{h: h, id: id}}),
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

// asIdentity serves a client's requests with the replica's API as id.
type asIdentity struct {
	h  *Hub
	id *authz.Identity
}

func (t asIdentity) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := &bufferedResponse{header: http.Header{}}
	t.h.api.ServeAs(rec, r, t.id)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	return &http.Response{StatusCode: rec.code, Status: http.StatusText(rec.code), Header: rec.header,
		Body: io.NopCloser(&rec.body), ContentLength: int64(rec.body.Len()), Request: r,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
}

// bufferedResponse is asIdentity's response writer.
type bufferedResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.body.Write(p)
}
