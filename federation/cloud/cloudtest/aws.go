package cloudtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
)

// AWS is a fake of the EKS, IAM and STS APIs (IAM and STS in aws_iam.go) on one loopback HTTP server
// (give its URL as the SDK clients' base endpoint).
type AWS struct {
	URL string
	// Endpoint and CA (PEM) are what every ACTIVE cluster reports.
	Endpoint string
	CA       []byte
	// Polls is how many status reads a cluster or node group stays
	// CREATING (or DELETING) before it is ACTIVE (or gone).
	Polls int
	// InstanceTypes are the instance types the region offers; a node group
	// of another fails to create.
	InstanceTypes []string
	// OnNodeGroup is called when a node group turns ACTIVE or is resized,
	// with its name, labels, taints, instance type and desired size: the
	// test's stand-in for EC2 instances joining the cluster.
	OnNodeGroup func(NodeGroup)

	srv *httptest.Server
	mu  sync.Mutex
	// Calls lists the mutating calls in order, e.g. "CreateRole flotilla-a-cluster".
	calls    []string
	roles    map[string][]string // name → attached policy ARNs
	inline   map[string][]string // role name → inline policy names
	podIDs   map[string]string   // cluster/association ID → namespace/service account=role ARN
	nextID   int
	clusters map[string]*awsCluster
	groups   map[string]*NodeGroup // cluster/name
	addons   map[string]*awsAddon  // cluster/name (aws_addon.go)
	// addonFaults: add-on name → status, issue code, message.
	addonFaults map[string][3]string
	faults      map[string]Fault // operation → fault
}

// Fault is an error the fake answers an operation with.
type Fault struct {
	Status  int
	Code    string
	Message string
}

type awsCluster struct {
	Name, Arn, Status string
	Tags              map[string]string
	polls             int
}

// NodeGroup is a node group as the fake holds it.
type NodeGroup struct {
	Cluster, Name, InstanceType, AMIType, Status string
	Labels                                       map[string]string
	Taints                                       []map[string]string
	Min, Max, Desired                            int
	issue                                        *[2]string
	polls                                        int
}

// NewAWS starts the fake; Close stops it.
func NewAWS() *AWS {
	f := &AWS{Polls: 3, roles: map[string][]string{}, inline: map[string][]string{}, podIDs: map[string]string{}, clusters: map[string]*awsCluster{}, groups: map[string]*NodeGroup{},
		faults: map[string]Fault{}, addons: map[string]*awsAddon{}, addonFaults: map[string][3]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	return f
}

// Close stops the server.
func (f *AWS) Close() { f.srv.Close() }

// Fail makes every call of the operation (e.g. "CreateCluster") fail; a
// zero Fault clears it.
func (f *AWS) Fail(op string, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fault == (Fault{}) {
		delete(f.faults, op)
		return
	}
	f.faults[op] = fault
}

// Calls returns the mutating calls so far.
func (f *AWS) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Resources lists what exists: "role NAME", "cluster NAME", "nodegroup C/N",
// "podidentity C/ID", "addon C/N".
func (f *AWS) Resources() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for n := range f.roles {
		out = append(out, "role "+n)
	}
	for n := range f.clusters {
		out = append(out, "cluster "+n)
	}
	for n := range f.groups {
		out = append(out, "nodegroup "+n)
	}
	for n := range f.podIDs {
		out = append(out, "podidentity "+n)
	}
	for n := range f.addons {
		out = append(out, "addon "+n)
	}
	slices.Sort(out)
	return out
}

// Group returns a copy of a node group, if it exists.
func (f *AWS) Group(cluster, name string) (NodeGroup, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.groups[cluster+"/"+name]
	if !ok {
		return NodeGroup{}, false
	}
	return *g, true
}

func (f *AWS) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" || r.URL.Path == "" {
		f.serveQuery(w, r)
		return
	}
	f.serveEKS(w, r)
}

// restErr writes an EKS (REST-JSON) error.
func restErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-Errortype", code)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *AWS) fault(w http.ResponseWriter, op string, rest bool) bool {
	ft, ok := f.faults[op]
	if !ok {
		return false
	}
	if rest {
		restErr(w, ft.Status, ft.Code, ft.Message)
	} else {
		queryErr(w, ft.Status, ft.Code, ft.Message)
	}
	return true
}

func (f *AWS) serveEKS(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var body map[string]any
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			restErr(w, 400, "InvalidParameterException", "bad JSON: "+err.Error())
			return
		}
	}
	switch {
	case len(parts) == 1 && parts[0] == "clusters" && r.Method == http.MethodPost:
		f.createCluster(w, body)
	case len(parts) == 2 && parts[0] == "clusters" && r.Method == http.MethodGet:
		f.describeCluster(w, parts[1])
	case len(parts) == 2 && parts[0] == "clusters" && r.Method == http.MethodDelete:
		f.deleteCluster(w, parts[1])
	case len(parts) == 3 && parts[2] == "node-groups" && r.Method == http.MethodPost:
		f.createGroup(w, parts[1], body)
	case len(parts) == 4 && parts[2] == "node-groups" && r.Method == http.MethodGet:
		f.describeGroup(w, parts[1], parts[3])
	case len(parts) == 4 && parts[2] == "node-groups" && r.Method == http.MethodDelete:
		f.deleteGroup(w, parts[1], parts[3])
	case len(parts) == 5 && parts[4] == "update-config" && r.Method == http.MethodPost:
		f.updateGroup(w, parts[1], parts[3], body)
	case len(parts) == 3 && parts[2] == "pod-identity-associations" && r.Method == http.MethodPost:
		f.createPodIdentity(w, parts[1], body)
	case len(parts) == 3 && parts[2] == "pod-identity-associations" && r.Method == http.MethodGet:
		f.listPodIdentities(w, parts[1], r.URL.Query().Get("namespace"), r.URL.Query().Get("serviceAccount"))
	case len(parts) == 4 && parts[2] == "pod-identity-associations" && r.Method == http.MethodDelete:
		f.deletePodIdentity(w, parts[1], parts[3])
	case len(parts) == 3 && parts[2] == "addons" && r.Method == http.MethodPost:
		f.createAddon(w, parts[1], body)
	case len(parts) == 4 && parts[2] == "addons" && r.Method == http.MethodGet:
		f.describeAddon(w, parts[1], parts[3])
	case len(parts) == 4 && parts[2] == "addons" && r.Method == http.MethodDelete:
		f.deleteAddon(w, parts[1], parts[3])
	default:
		restErr(w, 404, "NotFoundException", "no route "+r.Method+" "+r.URL.Path)
	}
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func (f *AWS) createCluster(w http.ResponseWriter, body map[string]any) {
	name := str(body, "name")
	if f.fault(w, "CreateCluster", true) {
		return
	}
	if _, ok := f.clusters[name]; ok {
		restErr(w, 409, "ResourceInUseException", "Cluster already exists with name: "+name)
		return
	}
	role := str(body, "roleArn")
	if _, ok := f.roles[strings.TrimPrefix(role, "arn:aws:iam::123456789012:role/")]; !ok {
		restErr(w, 400, "InvalidParameterException", "Role with arn: "+role+", does not exist")
		return
	}
	tags := map[string]string{}
	if t, ok := body["tags"].(map[string]any); ok {
		for k, v := range t {
			tags[k], _ = v.(string)
		}
	}
	c := &awsCluster{Name: name, Arn: "arn:aws:eks:us-east-1:123456789012:cluster/" + name, Status: "CREATING", Tags: tags}
	f.clusters[name] = c
	f.calls = append(f.calls, "CreateCluster "+name)
	writeJSON(w, map[string]any{"cluster": f.clusterJSON(c)})
}

func (f *AWS) clusterJSON(c *awsCluster) map[string]any {
	m := map[string]any{"name": c.Name, "arn": c.Arn, "status": c.Status, "tags": c.Tags}
	if c.Status == "ACTIVE" {
		m["endpoint"] = f.Endpoint
		m["certificateAuthority"] = map[string]string{"data": base64.StdEncoding.EncodeToString(f.CA)}
	}
	return m
}

func (f *AWS) describeCluster(w http.ResponseWriter, name string) {
	c, ok := f.clusters[name]
	if !ok {
		restErr(w, 404, "ResourceNotFoundException", "No cluster found for name: "+name+".")
		return
	}
	c.polls++
	switch {
	case c.Status == "CREATING" && c.polls > f.Polls:
		c.Status = "ACTIVE"
	case c.Status == "DELETING" && c.polls > f.Polls:
		delete(f.clusters, name)
		restErr(w, 404, "ResourceNotFoundException", "No cluster found for name: "+name+".")
		return
	}
	writeJSON(w, map[string]any{"cluster": f.clusterJSON(c)})
}

func (f *AWS) deleteCluster(w http.ResponseWriter, name string) {
	c, ok := f.clusters[name]
	if !ok {
		restErr(w, 404, "ResourceNotFoundException", "No cluster found for name: "+name+".")
		return
	}
	for k := range f.groups {
		if strings.HasPrefix(k, name+"/") {
			restErr(w, 409, "ResourceInUseException", "Cluster has nodegroups attached")
			return
		}
	}
	if c.Status != "DELETING" {
		c.Status, c.polls = "DELETING", 0
		f.calls = append(f.calls, "DeleteCluster "+name)
	}
	writeJSON(w, map[string]any{"cluster": f.clusterJSON(c)})
}

func (f *AWS) createGroup(w http.ResponseWriter, cluster string, body map[string]any) {
	name := str(body, "nodegroupName")
	if f.fault(w, "CreateNodegroup", true) {
		return
	}
	c, ok := f.clusters[cluster]
	if !ok || c.Status != "ACTIVE" {
		restErr(w, 400, "InvalidRequestException", "Cluster "+cluster+" is not ACTIVE")
		return
	}
	if _, ok := f.groups[cluster+"/"+name]; ok {
		restErr(w, 409, "ResourceInUseException", "NodeGroup already exists with name "+name+" and cluster name "+cluster)
		return
	}
	if _, ok := f.roles[strings.TrimPrefix(str(body, "nodeRole"), "arn:aws:iam::123456789012:role/")]; !ok {
		restErr(w, 400, "InvalidParameterException", "node role does not exist")
		return
	}
	g := &NodeGroup{Cluster: cluster, Name: name, AMIType: str(body, "amiType"), Status: "CREATING", Labels: map[string]string{}}
	if its, ok := body["instanceTypes"].([]any); ok && len(its) > 0 {
		g.InstanceType, _ = its[0].(string)
	}
	if l, ok := body["labels"].(map[string]any); ok {
		for k, v := range l {
			g.Labels[k], _ = v.(string)
		}
	}
	if ts, ok := body["taints"].([]any); ok {
		for _, t := range ts {
			tm, _ := t.(map[string]any)
			g.Taints = append(g.Taints, map[string]string{"key": str(tm, "key"), "value": str(tm, "value"), "effect": str(tm, "effect")})
		}
	}
	if sc, ok := body["scalingConfig"].(map[string]any); ok {
		n := func(k string) int { v, _ := sc[k].(float64); return int(v) }
		g.Min, g.Max, g.Desired = n("minSize"), n("maxSize"), n("desiredSize")
	}
	if len(f.InstanceTypes) > 0 && !slices.Contains(f.InstanceTypes, g.InstanceType) {
		g.issue = &[2]string{"Ec2InstanceTypeDoesNotExist", fmt.Sprintf("The instance type %s is not offered in this region", g.InstanceType)}
	}
	f.groups[cluster+"/"+name] = g
	f.calls = append(f.calls, "CreateNodegroup "+name)
	writeJSON(w, map[string]any{"nodegroup": groupJSON(g)})
}

func groupJSON(g *NodeGroup) map[string]any {
	m := map[string]any{"nodegroupName": g.Name, "clusterName": g.Cluster, "status": g.Status, "amiType": g.AMIType,
		"instanceTypes": []string{g.InstanceType}, "labels": g.Labels, "taints": g.Taints,
		"scalingConfig": map[string]int{"minSize": g.Min, "maxSize": g.Max, "desiredSize": g.Desired}}
	if g.issue != nil && g.Status == "CREATE_FAILED" {
		m["health"] = map[string]any{"issues": []map[string]any{{"code": g.issue[0], "message": g.issue[1]}}}
	}
	return m
}

func (f *AWS) describeGroup(w http.ResponseWriter, cluster, name string) {
	g, ok := f.groups[cluster+"/"+name]
	if !ok {
		restErr(w, 404, "ResourceNotFoundException", "No node group found for name: "+name+".")
		return
	}
	g.polls++
	switch {
	case (g.Status == "CREATING" || g.Status == "UPDATING") && g.polls > f.Polls && g.issue != nil:
		g.Status = "CREATE_FAILED"
	case (g.Status == "CREATING" || g.Status == "UPDATING") && g.polls > f.Polls:
		g.Status = "ACTIVE"
		if f.OnNodeGroup != nil {
			f.OnNodeGroup(*g)
		}
	case g.Status == "DELETING" && g.polls > f.Polls:
		delete(f.groups, cluster+"/"+name)
		if f.OnNodeGroup != nil {
			d := *g
			d.Desired = 0
			f.OnNodeGroup(d)
		}
		restErr(w, 404, "ResourceNotFoundException", "No node group found for name: "+name+".")
		return
	}
	writeJSON(w, map[string]any{"nodegroup": groupJSON(g)})
}

func (f *AWS) deleteGroup(w http.ResponseWriter, cluster, name string) {
	g, ok := f.groups[cluster+"/"+name]
	if !ok {
		restErr(w, 404, "ResourceNotFoundException", "No node group found for name: "+name+".")
		return
	}
	if g.Status != "DELETING" {
		g.Status, g.polls = "DELETING", 0
		f.calls = append(f.calls, "DeleteNodegroup "+name)
	}
	writeJSON(w, map[string]any{"nodegroup": groupJSON(g)})
}

func (f *AWS) updateGroup(w http.ResponseWriter, cluster, name string, body map[string]any) {
	g, ok := f.groups[cluster+"/"+name]
	if !ok {
		restErr(w, 404, "ResourceNotFoundException", "No node group found for name: "+name+".")
		return
	}
	if sc, ok := body["scalingConfig"].(map[string]any); ok {
		if v, ok := sc["desiredSize"].(float64); ok {
			if int(v) > g.Max {
				restErr(w, 400, "InvalidParameterException", "desired size exceeds max size")
				return
			}
			g.Desired = int(v)
		}
	}
	g.Status, g.polls = "UPDATING", 0
	f.calls = append(f.calls, fmt.Sprintf("UpdateNodegroupConfig %s %d", name, g.Desired))
	writeJSON(w, map[string]any{"update": map[string]any{"id": "u1", "status": "InProgress", "type": "ConfigUpdate"}})
}

// PodIdentities lists the pod identity associations: "CLUSTER/ID NAMESPACE/SA=ROLE-ARN".
func (f *AWS) PodIdentities() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k, v := range f.podIDs {
		out = append(out, k+" "+v)
	}
	slices.Sort(out)
	return out
}

func (f *AWS) createPodIdentity(w http.ResponseWriter, cluster string, body map[string]any) {
	if _, ok := f.clusters[cluster]; !ok {
		restErr(w, 404, "ResourceNotFoundException", "No cluster found for name: "+cluster+".")
		return
	}
	ns, sa, role := str(body, "namespace"), str(body, "serviceAccount"), str(body, "roleArn")
	if _, ok := f.roles[strings.TrimPrefix(role, "arn:aws:iam::123456789012:role/")]; !ok {
		restErr(w, 400, "InvalidParameterException", "Role with arn: "+role+", does not exist")
		return
	}
	for k, v := range f.podIDs {
		if strings.HasPrefix(k, cluster+"/") && strings.HasPrefix(v, ns+"/"+sa+"=") {
			restErr(w, 409, "ResourceInUseException", "Association already exists: "+strings.TrimPrefix(k, cluster+"/"))
			return
		}
	}
	f.nextID++
	id := fmt.Sprintf("a-%04d", f.nextID)
	f.podIDs[cluster+"/"+id] = ns + "/" + sa + "=" + role
	f.calls = append(f.calls, "CreatePodIdentityAssociation "+ns+"/"+sa)
	writeJSON(w, map[string]any{"association": map[string]any{"clusterName": cluster, "associationId": id, "namespace": ns,
		"serviceAccount": sa, "roleArn": role}})
}

func (f *AWS) listPodIdentities(w http.ResponseWriter, cluster, ns, sa string) {
	var out []map[string]any
	for k, v := range f.podIDs {
		id, ok := strings.CutPrefix(k, cluster+"/")
		if ok && (ns == "" || strings.HasPrefix(v, ns+"/")) && (sa == "" || strings.Contains(v, "/"+sa+"=")) {
			out = append(out, map[string]any{"clusterName": cluster, "associationId": id})
		}
	}
	writeJSON(w, map[string]any{"associations": out})
}

func (f *AWS) deletePodIdentity(w http.ResponseWriter, cluster, id string) {
	if _, ok := f.podIDs[cluster+"/"+id]; !ok {
		restErr(w, 404, "ResourceNotFoundException", "No pod identity association found for id: "+id+".")
		return
	}
	delete(f.podIDs, cluster+"/"+id)
	f.calls = append(f.calls, "DeletePodIdentityAssociation "+id)
	writeJSON(w, map[string]any{"association": map[string]any{"clusterName": cluster, "associationId": id}})
}
