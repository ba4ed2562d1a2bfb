package runtime

import (
	"fmt"
	"testing"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/filer"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Addresses of the world the policies are evaluated in.
const (
	apiServiceIP  = "10.96.0.1"    // the kubernetes Service
	apiEndpointIP = "192.168.1.10" // the API server itself, on a node address
	hubIP         = "203.0.113.5"  // the hub, outside the cluster
	licenseIP     = "10.20.0.5"    // the admin's license server
	nodeIP        = "192.168.1.20" // a node: its kubelet mounts filer exports
	metadataIP    = "169.254.169.254"
)

// policyWorld renders jobs of two tenants and a filer with the given egress
// settings and returns every policy the agent would create, with the
// rendered pods' labels for traffic.
type policyWorld struct {
	policy *matcher.Policy
	pods   map[string]*matcher.TrafficPeer // by name: "acme/j1-0", ...
}

func buildWorld(t *testing.T, allow, deny []string) *policyWorld {
	t.Helper()
	const prefix = "flotilla"
	w := &policyWorld{pods: map[string]*matcher.TrafficPeer{}}
	var pols []*networkingv1.NetworkPolicy
	ip := 0
	addPod := func(key string, p *corev1.Pod) {
		ip++
		w.pods[key] = &matcher.TrafficPeer{IP: fmt.Sprintf("10.244.0.%d", ip), Internal: &matcher.InternalPeer{
			PodLabels: p.Labels, Namespace: p.Namespace,
			NamespaceLabels: map[string]string{corev1.LabelMetadataName: p.Namespace},
		}}
	}
	vault := &structs.Vault{Tenant: "acme", Name: "scratch", Kind: structs.VaultBlock, ClaimName: "scratch", AccessMode: structs.AccessRWO}
	render := func(key string, number uint64, tenant string, nodes int, cmd structs.Command, onVault bool) {
		job := testJob(number, nodes)
		job.Tenant = tenant
		ns := podgroup.TenantNamespace(prefix, tenant)
		opts := testOptions()
		opts.Namespace, opts.EgressAllow, opts.EgressDeny = ns, allow, deny
		in := Input{Job: job, MachineType: n4(), Command: cmd, Random: fixedRandom()}
		if onVault {
			in.Vault = vault
			in.VaultNFS = &corev1.NFSVolumeSource{Server: "10.0.0.99", Path: "/"}
			in.Labels = map[string]string{filer.LabelFiler: filer.Name(vault)}
		}
		objs, err := Render(in, opts)
		if err != nil {
			t.Fatal(err)
		}
		pols = append(pols, objs.NetworkPolicy)
		for rank, p := range objs.Pods {
			addPod(fmt.Sprintf("%s/%d", key, rank), p)
		}
	}
	batch := structs.Command{Path: "/opt/run.sh"}
	render("acme-mpi", 1, "acme", 2, batch, true)
	render("acme-other", 2, "acme", 1, batch, false)
	render("acme-web", 3, "acme", 1, structs.Command{Path: "/usr/bin/jupyter", Interactive: true, Ports: []string{"8888/tcp"}}, false)
	render("globex-mpi", 4, "globex", 2, batch, false)
	for _, tenant := range []string{"acme", "globex"} {
		pols = append(pols, DefaultDeny(podgroup.TenantNamespace(prefix, tenant)))
	}
	fopts := filer.Options{Namespace: podgroup.TenantNamespace(prefix, "acme"), NodeCIDRs: []string{"192.168.1.0/24"}}
	pols = append(pols, filer.NetworkPolicy(vault, fopts))
	_, filerPod := filer.Objects(vault, fopts, "")
	addPod("filer", filerPod)
	addPod("ingress", &corev1.Pod{})
	w.pods["ingress"].Internal.Namespace = DefaultIngressNamespace
	w.pods["ingress"].Internal.NamespaceLabels = map[string]string{corev1.LabelMetadataName: DefaultIngressNamespace}
	w.pods["ingress"].Internal.PodLabels = map[string]string{"app.kubernetes.io/name": "ingress-nginx"}
	w.pods["dns"] = &matcher.TrafficPeer{IP: "10.244.9.9", Internal: &matcher.InternalPeer{
		PodLabels: DefaultDNSPodLabels(), Namespace: DefaultDNSNamespace,
		NamespaceLabels: map[string]string{corev1.LabelMetadataName: DefaultDNSNamespace}}}
	w.pods["default-pod"] = &matcher.TrafficPeer{IP: "10.244.9.10", Internal: &matcher.InternalPeer{
		PodLabels: map[string]string{"app": "x"}, Namespace: "default",
		NamespaceLabels: map[string]string{corev1.LabelMetadataName: "default"}}}
	w.policy = matcher.BuildNetworkPolicies(true, pols)
	return w
}

// peer returns a pod of the world, or an address outside the cluster.
func (w *policyWorld) peer(t *testing.T, name string) *matcher.TrafficPeer {
	if p, ok := w.pods[name]; ok {
		return p
	}
	if len(name) > 0 && name[0] >= '0' && name[0] <= '9' {
		return &matcher.TrafficPeer{IP: name}
	}
	t.Fatalf("no peer %q", name)
	return nil
}

func (w *policyWorld) allowed(t *testing.T, from, to string, port int, proto corev1.Protocol) bool {
	r := w.policy.IsTrafficAllowed(&matcher.Traffic{
		Source: w.peer(t, from), Destination: w.peer(t, to), ResolvedPort: port, Protocol: proto,
	})
	return r.IsAllowed()
}

// TestNetworkPolicySemantics evaluates the policies the agent renders —
// jobs' policies, the tenant namespaces' default deny and a filer's — with
// cyclonus's NetworkPolicy matcher: who may reach whom.
func TestNetworkPolicySemantics(t *testing.T) {
	type flow struct {
		from, to string
		port     int
		proto    corev1.Protocol
		want     bool
	}
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	common := map[string]flow{
		"head to worker SSH":                       {"acme-mpi/0", "acme-mpi/1", 2222, tcp, true},
		"worker to head control port":              {"acme-mpi/1", "acme-mpi/0", 2223, tcp, true},
		"head to worker MPI port":                  {"acme-mpi/0", "acme-mpi/1", 40000, tcp, true},
		"job to cluster DNS (UDP)":                 {"acme-mpi/0", "dns", 53, udp, true},
		"job to cluster DNS (TCP)":                 {"acme-mpi/0", "dns", 53, tcp, true},
		"job to license server (allow-list)":       {"acme-mpi/0", licenseIP, 27000, tcp, true},
		"job to metadata":                          {"acme-mpi/0", metadataIP, 80, tcp, false},
		"job to API server service":                {"acme-mpi/0", apiServiceIP, 443, tcp, false},
		"job to API server endpoint":               {"acme-mpi/0", apiEndpointIP, 6443, tcp, false},
		"cross-tenant: acme to globex SSH":         {"acme-mpi/0", "globex-mpi/1", 2222, tcp, false},
		"cross-tenant: globex to acme SSH":         {"globex-mpi/0", "acme-mpi/1", 2222, tcp, false},
		"cross-tenant: globex to acme app port":    {"globex-mpi/0", "acme-web/0", 8888, tcp, false},
		"another job of the same tenant":           {"acme-other/0", "acme-mpi/1", 2222, tcp, false},
		"a pod elsewhere to a job":                 {"default-pod", "acme-mpi/0", 2222, tcp, false},
		"ingress controller to the token guard":    {"ingress", "acme-web/0", DefaultGuardPort, tcp, true},
		"ingress controller past the guard to app": {"ingress", "acme-web/0", 8888, tcp, false},
		"ingress controller to a batch job":        {"ingress", "acme-mpi/0", DefaultGuardPort, tcp, false},
		"ingress controller to a job's SSH":        {"ingress", "acme-web/0", 2222, tcp, false},
		"node (kubelet mount) to filer NFS":        {nodeIP, "filer", 2049, tcp, true},
		"vault's own job to its filer":             {"acme-mpi/1", "filer", 2049, tcp, true},
		"other tenant's job to the filer":          {"globex-mpi/0", "filer", 2049, tcp, false},
		"same tenant, job not on the vault, filer": {"acme-other/0", "filer", 2049, tcp, false},
		"a pod elsewhere to the filer":             {"default-pod", "filer", 2049, tcp, false},
		"filer to anywhere":                        {"filer", hubIP, 443, tcp, false},
	}
	worlds := map[string]struct {
		allow, deny []string
		extra       map[string]flow
	}{
		// The allow-list names the license server only: the hub is
		// outside it.
		"narrow allow-list": {allow: []string{"10.20.0.0/24"}, deny: []string{apiServiceIP + "/32", apiEndpointIP + "/32"},
			extra: map[string]flow{
				"job to hub":                          {"acme-mpi/0", hubIP, 443, tcp, false},
				"job to the internet":                 {"acme-mpi/0", "8.8.8.8", 443, tcp, false},
				"job outside the license range":       {"acme-mpi/0", "10.20.1.5", 27000, tcp, false},
				"job to the DNS pods on another port": {"acme-mpi/0", "dns", 8080, tcp, false},
			}},
		// An admin who opens the internet still never opens the metadata
		// address or the API server, nor the hub when denied.
		"open allow-list": {allow: []string{"0.0.0.0/0"}, deny: []string{apiServiceIP + "/32", apiEndpointIP + "/32", hubIP + "/32"},
			extra: map[string]flow{
				"job to hub (denied)": {"acme-mpi/0", hubIP, 443, tcp, false},
				"job to the internet": {"acme-mpi/0", "8.8.8.8", 443, tcp, true},
			}},
	}
	for wname, wc := range worlds {
		t.Run(wname, func(t *testing.T) {
			w := buildWorld(t, wc.allow, wc.deny)
			flows := map[string]flow{}
			for k, v := range common {
				flows[k] = v
			}
			for k, v := range wc.extra {
				flows[k] = v
			}
			for name, f := range flows {
				if got := w.allowed(t, f.from, f.to, f.port, f.proto); got != f.want {
					t.Errorf("%s (%s -> %s:%d/%s): allowed %v, want %v", name, f.from, f.to, f.port, f.proto, got, f.want)
				}
			}
		})
	}
}

func TestAllowedBlocks(t *testing.T) {
	got := allowedBlocks([]string{"0.0.0.0/0", "10.20.0.0/24", "169.254.169.254/32", "fd00::/8"},
		[]string{MetadataCIDR, "10.0.0.0/8", "192.168.1.10/32", "fd00::1/128"})
	var s []string
	for _, p := range got {
		s = append(s, fmt.Sprintf("%s%v", p.IPBlock.CIDR, p.IPBlock.Except))
	}
	// 10.20.0.0/24 and 169.254.169.254/32 lie inside denied ranges: denied
	// wins, they are gone.
	want := "[0.0.0.0/0[169.254.169.254/32 10.0.0.0/8 192.168.1.10/32] fd00::/8[fd00::1/128]]"
	if fmt.Sprint(s) != want {
		t.Errorf("allowedBlocks = %v, want %v", s, want)
	}
}
