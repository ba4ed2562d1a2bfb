// Package filer serves ReadWriteOnce vaults to jobs: one NFS file server pod
// and a Service per vault, named after the vault, that every pod of every
// job on that vault mounts instead of the claim (which only one node could
// attach). A filer is reference counted by the jobs using it: each job
// Secret carries the LabelFiler label, so the count is read from the live
// Secrets in the cluster and survives agent restarts. A filer nobody has
// used for a grace period is removed.
//
// Decide is the pure decision (references, last use, now → keep or delete);
// Objects renders a filer's Service and Pod; Manager is the thin shell that
// creates them on demand (Ensure) and collects idle ones (Reconcile, Run).
package filer

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/version"
)

// Labels and annotations of filers and of the jobs using them.
const (
	// LabelFiler names the filer: on the filer's Service and Pod, and on
	// every object of a job that mounts it (the job Secret's label is the
	// reference count).
	LabelFiler = "flotilla.io/filer"
	// LabelComponent is "filer" on filer objects.
	LabelComponent = "flotilla.io/component"
	// ComponentFiler is LabelComponent's value.
	ComponentFiler = "filer"
	// AnnotLastUsed on the filer Service records (RFC 3339) when the filer
	// was first seen unused, so the grace period survives agent restarts.
	AnnotLastUsed = "flotilla.io/last-used"
	// AnnotVault and AnnotTenant record the vault verbatim; AnnotClaim the
	// claim served.
	AnnotVault  = "flotilla.io/vault"
	AnnotTenant = "flotilla.io/tenant"
	AnnotClaim  = "flotilla.io/claim"
)

// Defaults of Options.
const (
	DefaultGrace      = 90 * time.Second
	DefaultResync     = 10 * time.Second
	DefaultExportDir  = "/exports"
	DefaultExportPath = "/"
)

// nfsPort is a port the filer serves.
type nfsPort struct {
	name string
	port int32
}

// nfsPorts are the ports the filer Service exposes: nfs, mountd and rpcbind
// (the last two for NFSv3 clients).
func nfsPorts() []nfsPort {
	return []nfsPort{{"nfs", 2049}, {"mountd", 20048}, {"rpcbind", 111}}
}

// Options are a cluster's filer settings.
type Options struct {
	// Namespace is where filers run when NamespacePrefix is empty; with a
	// prefix, each filer runs in the namespace its caller names (the
	// vault's tenant's, where the claim and the jobs are) and Reconcile
	// looks at every namespace named like a tenant namespace.
	Namespace       string
	NamespacePrefix string
	// Image is an NFS server exporting ExportDir (default flotilla-filer at this build's
	// version, internal/version).
	Image string
	// SchedulerName places filer pods; empty is the cluster's default
	// scheduler (a filer is an ordinary pod, not a gang).
	SchedulerName string
	Tolerations   []corev1.Toleration
	// SecurityContext of the server container; nil is ServerSecurity (a
	// user-space NFS server's capabilities). A kernel NFS server needs
	// more (privileged): an administrator must ask for it here.
	SecurityContext *corev1.SecurityContext
	// NodeCIDRs are the addresses of the cluster's nodes: the kubelet
	// mounts a vault's export from the node, so the filer's NetworkPolicy
	// admits these (and the vault's own jobs' pods) on the NFS ports.
	NodeCIDRs  []string
	ExportDir  string        // where the claim is mounted in the filer (default DefaultExportDir)
	ExportPath string        // the path clients mount (default DefaultExportPath, the NFSv4 root)
	Grace      time.Duration // idle time before removal (default DefaultGrace)
	Resync     time.Duration // longest gap between reconcile passes (default DefaultResync)
}

func (o Options) withDefaults() Options {
	if o.Image == "" {
		o.Image = version.Image("flotilla-filer")
	}
	if o.ExportDir == "" {
		o.ExportDir = DefaultExportDir
	}
	if o.ExportPath == "" {
		o.ExportPath = DefaultExportPath
	}
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.Resync == 0 {
		o.Resync = DefaultResync
	}
	return o
}

// Needed reports whether jobs on v mount a filer instead of the claim: a
// ReadWriteOnce vault with a claim.
func Needed(v *structs.Vault) bool {
	return v != nil && v.AccessMode == structs.AccessRWO && v.ClaimName != ""
}

// Name is the name of a vault's filer (its Service and Pod): a DNS label
// "filer-<tenant>-<vault>-<hash>", at most 63 characters, unique per vault
// even when the readable part is shortened.
func Name(v *structs.Vault) string {
	sum := sha256.Sum256([]byte(v.Tenant + "\x00" + v.Name))
	slug := dnsSlug(v.Tenant + "-" + v.Name)
	if len(slug) > 40 {
		slug = strings.TrimRight(slug[:40], "-")
	}
	if slug == "" {
		return "filer-" + hex.EncodeToString(sum[:4])
	}
	return "filer-" + slug + "-" + hex.EncodeToString(sum[:4])
}

// dnsSlug lowercases s and keeps [a-z0-9], turning runs of anything else
// into one '-', trimmed at both ends.
func dnsSlug(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// Objects renders a vault's filer: a ClusterIP Service (jobs mount its
// address, which kubelets reach without cluster DNS) and the server Pod,
// owned by the Service once serviceUID is known (empty leaves it unowned).
func Objects(v *structs.Vault, opts Options, serviceUID types.UID) (*corev1.Service, *corev1.Pod) {
	opts = opts.withDefaults()
	name := Name(v)
	labels := map[string]string{LabelFiler: name, LabelComponent: ComponentFiler}
	annots := map[string]string{AnnotVault: v.Name, AnnotTenant: v.Tenant, AnnotClaim: v.ClaimName}
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: opts.Namespace, Labels: maps.Clone(labels), Annotations: maps.Clone(annots)}
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: meta(),
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: labels},
	}
	var cports []corev1.ContainerPort
	for _, p := range nfsPorts() {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
			Name: p.name, Protocol: corev1.ProtocolTCP, Port: p.port, TargetPort: intstr.FromInt32(p.port)})
		cports = append(cports, corev1.ContainerPort{Name: p.name, ContainerPort: p.port, Protocol: corev1.ProtocolTCP})
	}
	sc := opts.SecurityContext
	if sc == nil {
		sc = ServerSecurity()
	}
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: meta(),
		Spec: corev1.PodSpec{
			SchedulerName:                opts.SchedulerName,
			RestartPolicy:                corev1.RestartPolicyAlways,
			Tolerations:                  opts.Tolerations,
			AutomountServiceAccountToken: new(false),
			EnableServiceLinks:           new(false),
			SecurityContext: &corev1.PodSecurityContext{
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name:            "nfs",
				Image:           opts.Image,
				Ports:           cports,
				SecurityContext: sc.DeepCopy(),
				VolumeMounts:    []corev1.VolumeMount{{Name: "export", MountPath: opts.ExportDir}},
			}},
			Volumes: []corev1.Volume{{Name: "export", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: v.ClaimName}}}},
		},
	}
	if serviceUID != "" {
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: name, UID: serviceUID}}
	}
	return svc, pod
}

// ServerCapabilities are the only capabilities a filer's server keeps (all
// others are dropped; it is not privileged): what a user-space NFS server
// (NFS-Ganesha with its VFS backend) needs to serve every job user's files
// from one process — act as the file's owner (CHOWN, DAC_OVERRIDE, FOWNER,
// FSETID, SETUID, SETGID), open files by NFS handle (DAC_READ_SEARCH, for
// open_by_handle_at) — and to bind the NFS ports below 1024
// (NET_BIND_SERVICE). No SYS_ADMIN, no host namespaces, no privilege
// escalation.
func ServerCapabilities() []corev1.Capability {
	return []corev1.Capability{"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "NET_BIND_SERVICE", "SETGID", "SETUID"}
}

// ServerSecurity is the filer server container's default security context:
// root in the container with ServerCapabilities only.
func ServerSecurity() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		Privileged:               new(false),
		AllowPrivilegeEscalation: new(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: ServerCapabilities()},
	}
}
