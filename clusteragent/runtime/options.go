package runtime

import (
	"io"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// DefaultUID and DefaultGID are the job user's identity when none is given.
const (
	DefaultUID = 505
	DefaultGID = 505
)

// Defaults of Options.
const (
	DefaultInitBinary       = "/flotilla-init"
	DefaultIngressNamespace = "ingress-nginx"
	DefaultPeerTimeout      = 10 * time.Minute
	DefaultDNSNamespace     = "kube-system"
	// DefaultGuardPort is where an interactive job's token guard listens.
	DefaultGuardPort = 2224
	// MetadataCIDR is the cloud metadata address, never reachable from a
	// job.
	MetadataCIDR = "169.254.169.254/32"
)

// DefaultDNSPodLabels select the cluster DNS pods (CoreDNS keeps kube-dns's
// label).
func DefaultDNSPodLabels() map[string]string { return map[string]string{"k8s-app": "kube-dns"} }

// Options are a cluster's settings for the runtime environment.
type Options struct {
	// podgroup.Options carries namespace, scheduler name, tolerations and
	// the app image (set per job from the App). The runner sets the
	// namespace per job: its tenant's namespace.
	podgroup.Options

	// NamespacePrefix, when set, puts each tenant's jobs in the tenant's
	// own namespace, podgroup.TenantNamespace(NamespacePrefix, tenant),
	// which the runner creates and labels; empty runs every job in
	// Namespace (one namespace, for tools and tests).
	NamespacePrefix string

	InitImage  string // image holding the static flotilla-init
	InitBinary string // its path in InitImage; default DefaultInitBinary

	// JobsDomain is the DNS zone of interactive jobs: a job is reachable at
	// <jobname>.<JobsDomain>, where jobname is podgroup.JobName.
	JobsDomain         string
	IngressClass       string            // IngressClassName; empty uses the cluster default
	IngressTLSSecret   string            // a wildcard certificate for JobsDomain; empty is plain HTTP
	IngressNamespace   string            // where the ingress controller runs; default DefaultIngressNamespace
	IngressAnnotations map[string]string // extra annotations on each Ingress

	SSHPort     int32         // default initproc.DefaultSSHPort
	ControlPort int32         // default initproc.DefaultControlPort
	GuardPort   int32         // interactive jobs' token guard; default DefaultGuardPort
	PeerTimeout time.Duration // how long pods wait for each other; default DefaultPeerTimeout

	Mounts []Mount // cluster-wide NFS or host path mounts in every pod

	// PodSecurity is the Pod Security Admission level the runner enforces
	// on its tenant namespaces (PodSecurityRestricted, the default when
	// empty, PodSecurityBaseline, PodSecurityPrivileged or PodSecurityOff;
	// see podsecurity.go).
	PodSecurity string

	// Egress of job pods: their own job's pods, the cluster DNS pods
	// (DNSPodLabels in DNSNamespace, port 53) and the CIDRs of EgressAllow,
	// less those of EgressDeny and MetadataCIDR (always denied). The API
	// server's addresses belong in EgressDeny (the agent adds them).
	EgressAllow  []string
	EgressDeny   []string
	DNSNamespace string            // default DefaultDNSNamespace
	DNSPodLabels map[string]string // default DefaultDNSPodLabels
}

// Mount is a volume mounted into every pod of every job.
type Mount struct {
	Name     string // volume name, unique among Mounts
	Path     string // mount path in the app container
	ReadOnly bool
	NFS      *corev1.NFSVolumeSource // exactly one of NFS and HostPath
	HostPath string
}

// Input is one job to render.
type Input struct {
	Job         *structs.Job
	MachineType *structs.MachineType
	Command     structs.Command // the AppDef command Job.Command names
	// Image is the app's container image; empty uses Options.Image.
	Image string

	// Identity is the job user; a zero UID means DefaultUID and a zero GID
	// DefaultGID (jobs never run as root).
	Identity structs.Identity

	// Vault, when set and with a claim, is mounted at /data. VaultNFS, when
	// set, replaces the claim: an RWO vault served to a multi-node job by
	// the per-user NFS server.
	Vault    *structs.Vault
	VaultNFS *corev1.NFSVolumeSource

	// Labels are added to every object of the job (e.g. the filer serving
	// its vault, so live job Secrets count a filer's users). They never
	// replace Flotilla's own labels.
	Labels map[string]string

	// PodAnnotations are added to every pod, HeadAnnotations to rank 0 only
	// (winning over PodAnnotations); neither replaces Flotilla's own.
	// Used for cluster integrations and by tests to drive simulated pods.
	PodAnnotations  map[string]string
	HeadAnnotations map[string]string

	// OwnerUID is the UID of the job Secret once created; empty leaves the
	// ownerReferences to Objects.SetOwner.
	OwnerUID types.UID

	// APIURL and APIKey are the hub's API and a key scoped to the job, for
	// the %APIURL% and %APIKEY% substitutions ("" when not given).
	APIURL, APIKey string

	// PullSecret is the pull credential of the job's image (a docker
	// config JSON; "" for a public image): it becomes the job's
	// kubernetes.io/dockerconfigjson Secret (PullSecretName), which its
	// pods name in imagePullSecrets.
	PullSecret string

	// Random feeds the SSH key and the interactive token (crypto/rand in
	// production, a fixed reader in tests).
	Random io.Reader
}

// withDefaults returns opts with defaults filled in, or an error wrapping
// structs.ErrInvalid.
func (opts Options) withDefaults() (Options, error) {
	if opts.Namespace == "" {
		return opts, structs.Errorf(structs.ErrInvalid, "runtime options: no namespace")
	}
	if opts.Image == "" || opts.InitImage == "" {
		return opts, structs.Errorf(structs.ErrInvalid, "runtime options: app image and init image are required")
	}
	if opts.InitBinary == "" {
		opts.InitBinary = DefaultInitBinary
	}
	if opts.IngressNamespace == "" {
		opts.IngressNamespace = DefaultIngressNamespace
	}
	if opts.SSHPort == 0 {
		opts.SSHPort = initproc.DefaultSSHPort
	}
	if opts.ControlPort == 0 {
		opts.ControlPort = initproc.DefaultControlPort
	}
	if opts.PeerTimeout == 0 {
		opts.PeerTimeout = DefaultPeerTimeout
	}
	if opts.GuardPort == 0 {
		opts.GuardPort = DefaultGuardPort
	}
	if opts.DNSNamespace == "" {
		opts.DNSNamespace = DefaultDNSNamespace
	}
	if len(opts.DNSPodLabels) == 0 {
		opts.DNSPodLabels = DefaultDNSPodLabels()
	}
	for _, c := range append(append([]string(nil), opts.EgressAllow...), opts.EgressDeny...) {
		if _, err := netip.ParsePrefix(c); err != nil {
			return opts, structs.Errorf(structs.ErrInvalid, "runtime options: egress CIDR %q: %v", c, err)
		}
	}
	if err := CheckPodSecurity(opts.PodSecurity); err != nil {
		return opts, err
	}
	seen := map[string]bool{}
	for _, m := range opts.Mounts {
		if m.Name == "" || m.Path == "" || (m.NFS == nil) == (m.HostPath == "") || seen[m.Name] {
			return opts, structs.Errorf(structs.ErrInvalid, "runtime options: mount %q: want a unique name, a path and one of NFS or host path", m.Name)
		}
		seen[m.Name] = true
	}
	return opts, nil
}

// check validates an Input.
func (in *Input) check() error {
	switch {
	case in.Job == nil || in.MachineType == nil:
		return structs.Errorf(structs.ErrInvalid, "render: job and machine type are required")
	case in.Random == nil:
		return structs.Errorf(structs.ErrInvalid, "render: no source of randomness")
	case in.Command.Path == "":
		return structs.Errorf(structs.ErrInvalid, "job %q: command %q has no path", in.Job.ID, in.Job.Command)
	case in.Identity.UID < 0 || in.Identity.GID < 0:
		return structs.Errorf(structs.ErrInvalid, "job %q: negative uid/gid", in.Job.ID)
	}
	return CheckVault(in.Vault, in.Job.Tenant)
}

// identity returns the job user's uid and gid with defaults applied.
func (in *Input) identity() (uid, gid int64) {
	uid, gid = int64(in.Identity.UID), int64(in.Identity.GID)
	if uid == 0 {
		uid = DefaultUID
	}
	if gid == 0 {
		gid = DefaultGID
	}
	return uid, gid
}
