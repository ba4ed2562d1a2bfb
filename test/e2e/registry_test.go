package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/clusteragent/prepull"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// What the catalog tests share: an OCI registry on loopback, images
// pushed to it, and a federation whose agent pre-pulls the catalog.

// testRegistry starts go-containerregistry's registry on loopback and
// returns its host. With a user, it sits behind a basic-auth check:
// every request without that user and password gets 401 with a Basic
// challenge, as a private registry answers.
func testRegistry(t *testing.T, user, password string) (host string) {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if user != "" {
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="flotilla-e2e"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
			inner.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// dockerConfig is a docker config JSON with one registry's credentials.
func dockerConfig(host, user, password string) string {
	b, _ := json.Marshal(map[string]any{"auths": map[string]any{
		host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))}}})
	return string(b)
}

// pushImage pushes an image to ref whose file system holds files and
// whose config has labels and the platform linux/arch (opts: e.g. the
// registry's credentials).
func pushImage(t *testing.T, ref, arch string, files map[string][]byte, labels map[string]string, opts ...remote.Option) {
	t.Helper()
	img, err := crane.Image(files)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Labels = labels
	cf.Config.Cmd = []string{"/bin/true"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, opts...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

const solverAppDef = `{"name":"Registry Solver","description":"carried in its image","author":"e2e","licensed":false,
 "classifications":["Simulation"],"machines":["cpu*"],"vault-types":["NONE"],
 "commands":{"run":{"path":"/opt/solver/run.sh","name":"Run","description":"batch run","interactive":false,
   "parameters":{"steps":{"name":"Steps","type":"INT","value":"10","min":"1","max":"100","required":true,"positional":true}}}}}`

// catalogFed starts one hub replica and cluster east with nodes, runs
// prepare (nil: nothing) on east's control plane before east's agent
// starts, pre-pulling every 200 ms, and makes tenant acme and the
// machine types. The ledger records east's pull pods from the start.
func catalogFed(ctx context.Context, t *testing.T, nodes []k8senv.NodeSpec, prepare func(*k8senv.Env),
	mts ...*structs.MachineType) (*fed, *pullLedger) {
	t.Helper()
	f := startFed(t, 1, map[string][]k8senv.NodeSpec{"east": nodes})
	pulls := watchPulls(ctx, t, f.envs["east"])
	if prepare != nil {
		prepare(f.envs["east"])
	}
	f.agentAdjust = func(c *agent.ClusterConfig) { c.PrePull.Interval = 200 * time.Millisecond }
	f.addCluster(ctx, "east", nil)
	if _, err := f.admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	for _, mt := range mts {
		if _, err := f.admin.PutMachineType(ctx, mt); err != nil {
			t.Fatal(err)
		}
	}
	return f, pulls
}

// pullLedger records, per image, the nodes its pull pods were made for
// and the Secrets they named in imagePullSecrets.
type pullLedger struct {
	mu      sync.Mutex
	nodesOf map[string][]string
	secrets map[string][]string
}

// nodes are the nodes image was pulled onto, sorted.
func (l *pullLedger) nodes(image string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.nodesOf[image])
	slices.Sort(out)
	return out
}

// pullSecrets are the Secrets image's pull pods named.
func (l *pullLedger) pullSecrets(image string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.secrets[image])
}

// watchPulls records every pull pod created in env's pull namespace.
func watchPulls(ctx context.Context, t *testing.T, env *k8senv.Env) *pullLedger {
	t.Helper()
	l := &pullLedger{nodesOf: map[string][]string{}, secrets: map[string][]string{}}
	w, err := env.Client.CoreV1().Pods(prepull.DefaultNamespace).Watch(ctx, metav1.ListOptions{LabelSelector: prepull.LabelPull + "=true"})
	if err != nil {
		t.Fatal(err)
	}
	add := func(m map[string][]string, k, v string) {
		if !slices.Contains(m[k], v) {
			m[k] = append(m[k], v)
		}
	}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type != watch.Added {
				continue
			}
			l.mu.Lock()
			img := p.Spec.Containers[0].Image
			add(l.nodesOf, img, p.Spec.NodeName)
			for _, s := range p.Spec.ImagePullSecrets {
				add(l.secrets, img, s.Name)
			}
			l.mu.Unlock()
		}
	}()
	return l
}
