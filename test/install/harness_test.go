// Package install tests the install artefacts by installing them for real:
// the Helm chart (deploy/helm/flotilla) into a real control plane with kwok
// nodes and kube-scheduler (test/k8senv), the agent binary running with the
// ServiceAccount the chart grants, and the Terraform modules (terraform/)
// read with terraform-config-inspect.
package install

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/flotilla-hpc/flotilla/test/k8senv"
	"github.com/flotilla-hpc/flotilla/test/proc"
)

// storageClass is the class of the PersistentVolumes the tests make: the
// control plane has no provisioner, so claims bind to these static volumes.
const storageClass = "flotilla-test"

// chartDir is the chart under test.
func chartDir(t testing.TB) string {
	t.Helper()
	root, err := proc.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "deploy", "helm", "flotilla")
}

// helm runs the built helm binary against the control plane, with its own
// cache and config directories.
type helm struct {
	t          testing.TB
	bin        string
	kubeconfig string
	home       string
}

func newHelm(t testing.TB, kubeconfig string) *helm {
	t.Helper()
	bin, err := proc.FindBin("helm")
	if err != nil {
		t.Fatal(err)
	}
	return &helm{t: t, bin: bin, kubeconfig: kubeconfig, home: t.TempDir()}
}

// run runs helm with args and returns its combined output.
func (h *helm) run(ctx context.Context, args ...string) (string, error) {
	if h.kubeconfig != "" {
		args = append(args, "--kubeconfig", h.kubeconfig)
	}
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(h.home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(h.home, "config"),
		"HELM_DATA_HOME="+filepath.Join(h.home, "data"),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// must runs helm and fails the test on error.
func (h *helm) must(ctx context.Context, args ...string) string {
	h.t.Helper()
	out, err := h.run(ctx, args...)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// writeValues writes a values file for the test, in a directory whose
// name has no comma (helm splits -f on commas; t.TempDir names follow the
// test's name).
func writeValues(t testing.TB, name, yaml string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "flotilla-values-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// addStorage makes a StorageClass and n static PersistentVolumes of it, so
// the chart's claims bind without a provisioner.
func addStorage(ctx context.Context, t testing.TB, env *k8senv.Env, n int, size string) {
	t.Helper()
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: storageClass}, Provisioner: "kubernetes.io/no-provisioner"}
	if _, err := env.Client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pv-%d", i)},
			Spec: corev1.PersistentVolumeSpec{
				StorageClassName: storageClass,
				Capacity:         corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeSource: corev1.PersistentVolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: fmt.Sprintf("/tmp/flotilla-pv-%d", i)}},
			},
		}
		if _, err := env.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// serviceAccountKubeconfig writes a kubeconfig that authenticates as the
// ServiceAccount namespace/name with a token from the TokenRequest API, as
// a pod of that ServiceAccount would.
func serviceAccountKubeconfig(ctx context.Context, t testing.TB, env *k8senv.Env, namespace, name string) string {
	t.Helper()
	exp := int64(3600)
	tr, err := env.Client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for ServiceAccount %s/%s: %v", namespace, name, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: env.APIServerURL, CertificateAuthorityData: env.Config.CAData}
	cfg.AuthInfos["sa"] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["sa"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "sa", Namespace: namespace}
	cfg.CurrentContext = "sa"
	p := filepath.Join(t.TempDir(), "sa-kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// podFiles stands in for the kubelet: it writes the Secret and ConfigMap
// volumes a container mounts into a local directory, makes empty
// directories for the others, and rewrites the container's arguments to
// the local paths, expanding $(VAR) from the container's environment as
// Kubernetes does (podName stands for metadata.name).
func podFiles(t testing.TB, src volumeData, podName string, spec *corev1.PodSpec, c *corev1.Container) []string {
	t.Helper()
	root := t.TempDir()
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]string{} // mount path → local directory
	for i, m := range c.VolumeMounts {
		dir := filepath.Join(root, fmt.Sprintf("vol%d-%s", i, m.Name))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		mounts[m.MountPath] = dir
		v, ok := volumes[m.Name]
		if !ok {
			t.Fatalf("container %s mounts volume %q, which the pod does not have", c.Name, m.Name)
		}
		data := map[string][]byte{}
		var items []corev1.KeyToPath
		switch {
		case v.Secret != nil:
			s, err := src.secret(v.Secret.SecretName)
			if err != nil {
				t.Fatalf("volume %s: %v", m.Name, err)
			}
			data, items = s.Data, v.Secret.Items
		case v.ConfigMap != nil:
			cm, err := src.configMap(v.ConfigMap.Name)
			if err != nil {
				t.Fatalf("volume %s: %v", m.Name, err)
			}
			for k, s := range cm.Data {
				data[k] = []byte(s)
			}
			items = v.ConfigMap.Items
		default:
			continue // a claim or an emptyDir: an empty directory
		}
		if len(items) == 0 {
			for k := range data {
				items = append(items, corev1.KeyToPath{Key: k, Path: k})
			}
		}
		for _, it := range items {
			b, ok := data[it.Key]
			if !ok {
				t.Fatalf("volume %s: key %q missing", m.Name, it.Key)
			}
			if err := os.WriteFile(filepath.Join(dir, it.Path), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	vars := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			vars[e.Name] = podName
		case e.ValueFrom == nil:
			vars[e.Name] = e.Value
		}
	}
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	var args []string
	for _, a := range c.Args {
		a = ref.ReplaceAllStringFunc(a, func(m string) string {
			if v, ok := vars[m[2:len(m)-1]]; ok {
				return v
			}
			return m
		})
		if name, value, ok := strings.Cut(a, "="); ok {
			best := ""
			for mp := range mounts {
				if (value == mp || strings.HasPrefix(value, mp+"/")) && len(mp) > len(best) {
					best = mp
				}
			}
			if best != "" {
				a = name + "=" + mounts[best] + strings.TrimPrefix(value, best)
			}
		}
		args = append(args, a)
	}
	return args
}

// volumeData finds the Secrets and ConfigMaps a pod mounts.
type volumeData interface {
	secret(name string) (*corev1.Secret, error)
	configMap(name string) (*corev1.ConfigMap, error)
}

// apiVolumes reads them from the API server.
type apiVolumes struct {
	ctx       context.Context
	env       *k8senv.Env
	namespace string
}

func (a apiVolumes) secret(name string) (*corev1.Secret, error) {
	return a.env.Client.CoreV1().Secrets(a.namespace).Get(a.ctx, name, metav1.GetOptions{})
}

func (a apiVolumes) configMap(name string) (*corev1.ConfigMap, error) {
	return a.env.Client.CoreV1().ConfigMaps(a.namespace).Get(a.ctx, name, metav1.GetOptions{})
}

// waitFor polls cond every 200 ms until it holds or ctx ends.
func waitFor(ctx context.Context, t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not reached before the deadline; last: %s", what, last)
		case <-tick.C:
		}
	}
}

// podReady reports whether p is bound, running and ready.
func podReady(p *corev1.Pod) bool {
	if p.Spec.NodeName == "" || p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// binaryVersion is the version a built Flotilla binary reports.
func binaryVersion(t testing.TB, name string) string {
	t.Helper()
	bin, err := proc.FindBin(name)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-version").Output()
	if err != nil {
		t.Fatalf("%s -version: %v", name, err)
	}
	f := strings.Fields(string(out))
	if len(f) < 2 || f[0] != name {
		t.Fatalf("%s -version printed %q", name, out)
	}
	return f[1]
}
