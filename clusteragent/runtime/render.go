package runtime

import (
	"encoding/hex"
	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"io"
	"maps"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Keys of the job Secret besides the SSH key files named in initproc.
const (
	TokenKey = "token" // interactive jobs: the per-job secret token
	URLKey   = "url"   // interactive jobs: the URL with the token substituted
)

// Objects are a job's Kubernetes objects. Create the Secret first, fill its
// UID into the others with SetOwner, then create them in the order All
// returns.
type Objects struct {
	Secret        *corev1.Secret
	PullSecret    *corev1.Secret    // the image's pull credential; nil for a public image
	ConfigMap     *corev1.ConfigMap // the machinefile
	Service       *corev1.Service   // headless; gives the pods their DNS names
	NetworkPolicy *networkingv1.NetworkPolicy
	WebService    *corev1.Service       // interactive only: the head's ports
	Ingress       *networkingv1.Ingress // interactive only
	Pods          []*corev1.Pod         // rank 0 is the head

	// URL is where an interactive job is reached (with its token); it is
	// also the Secret's URLKey, which is authoritative when the Secret
	// already existed. Empty for batch jobs.
	URL string
}

// All returns every object in creation order: the Secret, then what the pods
// depend on, then the pods.
func (o *Objects) All() []metav1.Object {
	all := []metav1.Object{o.Secret}
	if o.PullSecret != nil {
		all = append(all, o.PullSecret)
	}
	all = append(all, o.ConfigMap, o.Service, o.NetworkPolicy)
	if o.WebService != nil {
		all = append(all, o.WebService)
	}
	if o.Ingress != nil {
		all = append(all, o.Ingress)
	}
	for _, p := range o.Pods {
		all = append(all, p)
	}
	return all
}

// SetOwner makes the job Secret (whose UID is uid) the owner of every other
// object, so deleting the Secret garbage-collects the job.
func (o *Objects) SetOwner(uid types.UID) {
	ref := metav1.OwnerReference{APIVersion: "v1", Kind: "Secret", Name: o.Secret.Name, UID: uid}
	for _, obj := range o.All()[1:] {
		obj.SetOwnerReferences([]metav1.OwnerReference{ref})
	}
}

// Render returns the objects of a job. It is pure: the same input, options
// and bytes from in.Random give the same objects. Errors wrap
// structs.ErrInvalid (bad input) or structs.ErrUnavailable (randomness).
func Render(in Input, opts Options) (*Objects, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	if in.Image != "" {
		opts.Image = in.Image
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	job, mt := in.Job, in.MachineType
	pods, err := podgroup.Build(job, mt, opts.Options)
	if err != nil {
		return nil, err
	}
	var web []corev1.ServicePort
	if in.Command.Interactive {
		if opts.JobsDomain == "" {
			return nil, structs.Errorf(structs.ErrInvalid, "job %q: interactive command but the cluster has no jobs domain", job.ID)
		}
		if web, err = tcpPorts(in.Command.Ports); err != nil {
			return nil, structs.Errorf(structs.ErrInvalid, "job %q: %v", job.ID, err)
		}
	}
	devs, err := parseDevices(mt.DeviceList())
	if err != nil {
		return nil, structs.Errorf(structs.ErrInvalid, "machine type %q: %v", mt.Name, err)
	}
	r := &renderer{
		in: in, opts: opts, job: job, mt: mt,
		name:  podgroup.JobName(job.Number),
		hosts: Hostnames(job.Number, job.Nodes),
		devs:  devs,
	}
	r.labels = maps.Clone(in.Labels)
	if r.labels == nil {
		r.labels = map[string]string{}
	}
	maps.Copy(r.labels, map[string]string{
		podgroup.LabelManaged: "true",
		podgroup.LabelJob:     strconv.FormatUint(job.Number, 10),
		podgroup.LabelTenant:  podgroup.LabelValue(job.Tenant),
	})
	keys, err := NewKeyPair(in.Random, "flotilla-"+r.name)
	if err != nil {
		return nil, err
	}
	o := &Objects{}
	var token string
	wv := WebVars{}
	if opts.JobsDomain != "" {
		wv.PublicAddr, wv.BaseURL = r.publicAddr(), r.baseURL()
	}
	if len(web) > 0 {
		if token, err = randomHex(in.Random, 32); err != nil {
			return nil, err
		}
		o.URL = r.url(token)
		o.WebService = r.webService(web[0])
		o.Ingress = r.ingress(web[0])
		wv.Random64 = token
	} else if usesRandom64(&in.Command) {
		if wv.Random64, err = randomHex(in.Random, 32); err != nil {
			return nil, err
		}
	}
	line, err := CommandLine(in, wv)
	if err != nil {
		return nil, err
	}
	r.line = line
	o.Secret = r.secret(keys, token, o.URL)
	o.PullSecret = r.pullSecret()
	o.ConfigMap = r.configMap()
	o.Service = r.headlessService()
	o.NetworkPolicy = r.networkPolicy(len(web) > 0)
	for rank, p := range pods {
		r.decoratePod(p, rank, line.Argv, web)
	}
	o.Pods = pods
	if in.OwnerUID != "" {
		o.SetOwner(in.OwnerUID)
	}
	return o, nil
}

// renderer holds what the builders of one job's objects share.
type renderer struct {
	in     Input
	opts   Options
	job    *structs.Job
	mt     *structs.MachineType
	name   string            // podgroup.JobName
	hosts  []string          // machinefile, head first
	labels map[string]string // on every object
	devs   devices
	line   *appdef.Line // the head's command line, variables and uploads
}

// meta is the metadata of a job-level object.
func (r *renderer) meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:        name,
		Namespace:   r.opts.Namespace,
		Labels:      maps.Clone(r.labels),
		Annotations: map[string]string{podgroup.AnnotJobID: r.job.ID},
	}
}

// selector selects the job's pods; with head it selects only rank 0.
func (r *renderer) selector(head bool) map[string]string {
	sel := map[string]string{
		podgroup.LabelManaged: "true",
		podgroup.LabelJob:     r.labels[podgroup.LabelJob],
	}
	if head {
		sel[podgroup.LabelRank] = "0"
	}
	return sel
}

func (r *renderer) secret(keys *KeyPair, token, url string) *corev1.Secret {
	data := map[string][]byte{
		initproc.PrivateKeyFile:     keys.Private,
		initproc.PublicKeyFile:      keys.Public,
		initproc.AuthorizedKeysFile: keys.AuthorizedKeys,
	}
	maps.Copy(data, appFiles(r.line))
	maps.Copy(data, r.jobEnvData())
	if token != "" {
		data[TokenKey] = []byte(token)
		data[URLKey] = []byte(url)
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: r.meta(r.name),
		Type:       corev1.SecretTypeOpaque,
		Immutable:  new(true),
		Data:       data,
	}
}

// PullSecretName is the name of a job's pull credential Secret.
func PullSecretName(number uint64) string { return podgroup.JobName(number) + "-pull" }

// pullSecret is the job's kubernetes.io/dockerconfigjson Secret, nil
// without a credential. It is owned by the job Secret, so it goes with
// the job; it does not carry LabelManaged: it is not a job Secret.
func (r *renderer) pullSecret() *corev1.Secret {
	if r.in.PullSecret == "" {
		return nil
	}
	m := r.meta(PullSecretName(r.job.Number))
	delete(m.Labels, podgroup.LabelManaged)
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: m,
		Type:       corev1.SecretTypeDockerConfigJson,
		Immutable:  new(true),
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(r.in.PullSecret)},
	}
}

func (r *renderer) configMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: r.meta(r.name),
		Immutable:  new(true),
		Data: map[string]string{
			NodesKey: NodesFile(r.hosts),
			CoresKey: CoresFile(r.hosts, r.mt.Cores),
		},
	}
}

// randomHex returns n bytes of random as lower-case hex.
func randomHex(random io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(random, b); err != nil {
		return "", structs.Errorf(structs.ErrUnavailable, "generate token: %v", err)
	}
	return hex.EncodeToString(b), nil
}
