package cloudtest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// GKE is a fake of GKE's ClusterManager gRPC service on loopback, of
// Google's OAuth token endpoint (point a service account key's token_uri
// at TokenURL), and of the Resource Manager and IAM REST calls that give
// the agent its access (gke_iam.go).
type GKE struct {
	containerpb.UnimplementedClusterManagerServer
	// Addr is the gRPC server's host:port; TokenURL the token endpoint.
	Addr, TokenURL string
	// IAMURL and ResourceManagerURL are the base URLs of the REST fake
	// (one server).
	IAMURL, ResourceManagerURL string
	// Project and ProjectNumber are the one project the fake knows.
	Project, ProjectNumber string

	// Endpoint (host:port) and CA (PEM) are what every RUNNING cluster
	// reports.
	Endpoint string
	CA       []byte
	// Polls is how many reads a cluster or pool stays PROVISIONING (or
	// STOPPING) before it is RUNNING (or gone).
	Polls int
	// MachineTypes are the machine types the zone offers; a pool of
	// another is refused, as GKE refuses it.
	MachineTypes []string
	// OnNodePool is called when a pool turns RUNNING or is resized: the
	// test's stand-in for VMs joining the cluster.
	OnNodePool func(Pool)

	srv     *grpc.Server
	tokSrv  *httptest.Server
	restSrv *httptest.Server
	mu      sync.Mutex
	calls   []string
	// clusters by name; pools by cluster/pool.
	clusters map[string]*gkeCluster
	pools    map[string]*Pool
	faults   map[string]error
	tokens   []string
	// The REST half: the project's policy, custom roles by name.
	policy     IAMPolicy
	etagN      int
	roles      map[string]*IAMRole
	restFaults map[string]RESTFault
	conflicts  int
	afterCall  func(call string)
}

type gkeCluster struct {
	c     *containerpb.Cluster
	polls int
}

// Pool is a node pool as the fake holds it.
type Pool struct {
	Cluster string
	Pool    *containerpb.NodePool
	Size    int
	polls   int
}

// NewGKE starts the fake; Close stops it.
func NewGKE() (*GKE, error) {
	f := &GKE{Polls: 3, clusters: map[string]*gkeCluster{}, pools: map[string]*Pool{}, faults: map[string]error{},
		Project: "hpc-project", ProjectNumber: "415104041262", roles: map[string]*IAMRole{}, restFaults: map[string]RESTFault{}}
	f.bumpEtag()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f.Addr = lis.Addr().String()
	f.srv = grpc.NewServer()
	containerpb.RegisterClusterManagerServer(f.srv, f)
	go func() { _ = f.srv.Serve(lis) }()
	f.tokSrv = httptest.NewServer(http.HandlerFunc(f.serveToken))
	f.TokenURL = f.tokSrv.URL + "/token"
	f.restSrv = httptest.NewServer(http.HandlerFunc(f.serveREST))
	f.IAMURL, f.ResourceManagerURL = f.restSrv.URL, f.restSrv.URL
	return f, nil
}

// Close stops the servers.
func (f *GKE) Close() {
	f.srv.Stop()
	f.tokSrv.Close()
	f.restSrv.Close()
}

// Fail makes every call of the method (e.g. "CreateCluster") fail with a
// gRPC status of code carrying reason (if not empty) as its ErrorInfo.
func (f *GKE) Fail(method string, code codes.Code, reason, msg string) {
	st := status.New(code, msg)
	if reason != "" {
		if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: "container.googleapis.com"}); err == nil {
			st = d
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[method] = st.Err()
}

// Calls returns the mutating calls so far, e.g. "CreateNodePool mt-cpu".
func (f *GKE) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Resources lists what exists: "cluster NAME", "nodepool C/N", "role
// NAME" (custom roles not deleted).
func (f *GKE) Resources() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for n := range f.clusters {
		out = append(out, "cluster "+n)
	}
	for n := range f.pools {
		out = append(out, "nodepool "+n)
	}
	for n, r := range f.roles {
		if !r.Deleted {
			out = append(out, "role "+n)
		}
	}
	slices.Sort(out)
	return out
}

// AuthenticateToken reports whether the token endpoint issued token.
func (f *GKE) AuthenticateToken(token string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if slices.Contains(f.tokens, token) {
		return "admin@project.iam.gserviceaccount.com", nil
	}
	return "", fmt.Errorf("unknown token")
}

func (f *GKE) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("assertion") == "" ||
		r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	tok := fmt.Sprintf("ya29.fake-%d", len(f.tokens)+1)
	f.tokens = append(f.tokens, tok)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
}

// clusterName takes the cluster's name from projects/P/locations/L/clusters/N[/...].
func clusterName(path string) string {
	parts := strings.Split(path, "/")
	for i := range parts {
		if parts[i] == "clusters" && i+1 < len(parts) {
			return parts[i+1]
		}
	}
	return ""
}

func lastPart(path string) string { return path[strings.LastIndex(path, "/")+1:] }

func (f *GKE) op(name string) *containerpb.Operation {
	return &containerpb.Operation{Name: "operation-" + name, Status: containerpb.Operation_RUNNING}
}

// CreateCluster starts a cluster PROVISIONING.
func (f *GKE) CreateCluster(_ context.Context, req *containerpb.CreateClusterRequest) (*containerpb.Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.faults["CreateCluster"]; err != nil {
		return nil, err
	}
	name := req.GetCluster().GetName()
	if _, ok := f.clusters[name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Already exists: %s/clusters/%s.", req.GetParent(), name)
	}
	pool := req.GetCluster().GetWorkloadIdentityConfig().GetWorkloadPool()
	if pool != "" && pool != f.Project+".svc.id.goog" {
		return nil, status.Errorf(codes.InvalidArgument, "Workload pool %q must be %s.svc.id.goog.", pool, f.Project)
	}
	for _, np := range req.GetCluster().GetNodePools() {
		if np.GetConfig().GetWorkloadMetadataConfig().GetMode() == containerpb.WorkloadMetadataConfig_GKE_METADATA && pool == "" {
			return nil, status.Errorf(codes.InvalidArgument, "Node pool %s: GKE_METADATA needs Workload Identity on the cluster.", np.GetName())
		}
	}
	c := proto.Clone(req.GetCluster()).(*containerpb.Cluster)
	c.Status = containerpb.Cluster_PROVISIONING
	f.clusters[name] = &gkeCluster{c: c}
	f.calls = append(f.calls, "CreateCluster "+name)
	return f.op("create-" + name), nil
}

// GetCluster reports a cluster; it is RUNNING after Polls reads.
func (f *GKE) GetCluster(_ context.Context, req *containerpb.GetClusterRequest) (*containerpb.Cluster, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := clusterName(req.GetName())
	gc, ok := f.clusters[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Not found: %s.", req.GetName())
	}
	gc.polls++
	switch {
	case gc.c.Status == containerpb.Cluster_PROVISIONING && gc.polls > f.Polls:
		gc.c.Status = containerpb.Cluster_RUNNING
		gc.c.Endpoint = f.Endpoint
		gc.c.MasterAuth = &containerpb.MasterAuth{ClusterCaCertificate: base64.StdEncoding.EncodeToString(f.CA)}
	case gc.c.Status == containerpb.Cluster_STOPPING && gc.polls > f.Polls:
		delete(f.clusters, name)
		return nil, status.Errorf(codes.NotFound, "Not found: %s.", req.GetName())
	}
	return proto.Clone(gc.c).(*containerpb.Cluster), nil
}

// DeleteCluster starts a cluster STOPPING; GKE deletes its pools with it.
func (f *GKE) DeleteCluster(_ context.Context, req *containerpb.DeleteClusterRequest) (*containerpb.Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := clusterName(req.GetName())
	gc, ok := f.clusters[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Not found: %s.", req.GetName())
	}
	for k := range f.pools {
		if strings.HasPrefix(k, name+"/") {
			delete(f.pools, k)
		}
	}
	if gc.c.Status != containerpb.Cluster_STOPPING {
		gc.c.Status, gc.polls = containerpb.Cluster_STOPPING, 0
		f.calls = append(f.calls, "DeleteCluster "+name)
	}
	return f.op("delete-" + name), nil
}

// CreateNodePool starts a pool PROVISIONING.
func (f *GKE) CreateNodePool(_ context.Context, req *containerpb.CreateNodePoolRequest) (*containerpb.Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.faults["CreateNodePool"]; err != nil {
		return nil, err
	}
	cluster := clusterName(req.GetParent())
	gc, ok := f.clusters[cluster]
	if !ok || gc.c.Status != containerpb.Cluster_RUNNING {
		return nil, status.Errorf(codes.FailedPrecondition, "Cluster %s is not running.", cluster)
	}
	np := req.GetNodePool()
	if np.GetConfig().GetWorkloadMetadataConfig().GetMode() == containerpb.WorkloadMetadataConfig_GKE_METADATA &&
		gc.c.GetWorkloadIdentityConfig().GetWorkloadPool() == "" {
		return nil, status.Errorf(codes.FailedPrecondition, "Node pool %s: GKE_METADATA needs Workload Identity on the cluster.", np.GetName())
	}
	if mt := np.GetConfig().GetMachineType(); len(f.MachineTypes) > 0 && !slices.Contains(f.MachineTypes, mt) {
		return nil, status.Errorf(codes.InvalidArgument, "Machine type %q does not exist in this location.", mt)
	}
	key := cluster + "/" + np.GetName()
	if _, ok := f.pools[key]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Already exists: node pool %s.", np.GetName())
	}
	np.Status = containerpb.NodePool_PROVISIONING
	f.pools[key] = &Pool{Cluster: cluster, Pool: np, Size: int(np.GetInitialNodeCount())}
	f.calls = append(f.calls, "CreateNodePool "+np.GetName())
	return f.op("create-" + np.GetName()), nil
}

// GetNodePool reports a pool; it is RUNNING after Polls reads.
func (f *GKE) GetNodePool(_ context.Context, req *containerpb.GetNodePoolRequest) (*containerpb.NodePool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := clusterName(req.GetName()) + "/" + lastPart(req.GetName())
	p, ok := f.pools[key]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Not found: %s.", req.GetName())
	}
	p.polls++
	switch {
	case (p.Pool.Status == containerpb.NodePool_PROVISIONING || p.Pool.Status == containerpb.NodePool_RECONCILING) && p.polls > f.Polls:
		p.Pool.Status = containerpb.NodePool_RUNNING
		if f.OnNodePool != nil {
			f.OnNodePool(*p)
		}
	case p.Pool.Status == containerpb.NodePool_STOPPING && p.polls > f.Polls:
		delete(f.pools, key)
		if f.OnNodePool != nil {
			d := *p
			d.Size = 0
			f.OnNodePool(d)
		}
		return nil, status.Errorf(codes.NotFound, "Not found: %s.", req.GetName())
	}
	return proto.Clone(p.Pool).(*containerpb.NodePool), nil
}

// DeleteNodePool starts a pool STOPPING.
func (f *GKE) DeleteNodePool(_ context.Context, req *containerpb.DeleteNodePoolRequest) (*containerpb.Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := clusterName(req.GetName()) + "/" + lastPart(req.GetName())
	p, ok := f.pools[key]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Not found: %s.", req.GetName())
	}
	if p.Pool.Status != containerpb.NodePool_STOPPING {
		p.Pool.Status, p.polls = containerpb.NodePool_STOPPING, 0
		f.calls = append(f.calls, "DeleteNodePool "+p.Pool.Name)
	}
	return f.op("delete-" + p.Pool.Name), nil
}

// SetNodePoolSize resizes a pool.
func (f *GKE) SetNodePoolSize(_ context.Context, req *containerpb.SetNodePoolSizeRequest) (*containerpb.Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := clusterName(req.GetName()) + "/" + lastPart(req.GetName())
	p, ok := f.pools[key]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Not found: %s.", req.GetName())
	}
	p.Size = int(req.GetNodeCount())
	p.Pool.Status, p.polls = containerpb.NodePool_RECONCILING, 0
	f.calls = append(f.calls, fmt.Sprintf("SetNodePoolSize %s %d", p.Pool.Name, p.Size))
	return f.op("resize-" + p.Pool.Name), nil
}

// Cluster returns a copy of a cluster as it was asked for (with its
// status), if it exists.
func (f *GKE) Cluster(name string) (*containerpb.Cluster, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	gc, ok := f.clusters[name]
	if !ok {
		return nil, false
	}
	return proto.Clone(gc.c).(*containerpb.Cluster), true
}

// Pool returns a copy of a pool with its current size, if it exists.
func (f *GKE) Pool(cluster, name string) (Pool, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pools[cluster+"/"+name]
	if !ok {
		return Pool{}, false
	}
	c := *p
	c.Pool = proto.Clone(p.Pool).(*containerpb.NodePool)
	return c, true
}

// NodePool returns a copy of a node pool as it was asked for, if it exists.
func (f *GKE) NodePool(cluster, name string) (*containerpb.NodePool, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pools[cluster+"/"+name]
	if !ok {
		return nil, false
	}
	return proto.Clone(p.Pool).(*containerpb.NodePool), true
}
