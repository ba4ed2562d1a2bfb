package agentinstall

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/flotilla-hpc/flotilla/test/proc"
)

// TestRenderMatchesChart renders the agent with Render and with `helm
// template` of deploy/helm/flotilla (agent only, inline bootstrap token, no
// persistence) and compares every object but for Helm's own labels and
// the Namespace object Render adds (helm's --create-namespace).
func TestRenderMatchesChart(t *testing.T) {
	if testing.Short() {
		t.Skip("requires helm (make tools); skipped in -short")
	}
	helm, err := proc.FindBin("helm")
	if err != nil {
		t.Fatal(err)
	}
	root, err := proc.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	v := Values{Release: "flotilla", Namespace: "hpc", Cluster: "c1", HubURLs: []string{"https://a.example:8443", "https://b.example:8443"},
		BootstrapToken: "flb_abc", Tag: "v1.2.3", Registry: "registry.example/flotilla", NamespacePrefix: "jobs", Heartbeat: "5s",
		NodeSelector: "flotilla.io/pool=hpc", Tolerate: []string{"flotilla.io/pool=hpc:NoSchedule"}, ExtraArgs: []string{"-elastic-idle=5m"}}
	dir := t.TempDir()
	values := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(values, []byte(`
image: {registry: registry.example/flotilla, tag: v1.2.3}
hub: {enabled: false}
idmapper: {enabled: false}
agent:
  enabled: true
  cluster: c1
  hub: {urls: ["https://a.example:8443", "https://b.example:8443"], bootstrapToken: flb_abc}
  persistence: {enabled: false}
  jobs: {namespacePrefix: jobs, nodeSelector: "flotilla.io/pool=hpc", tolerate: ["flotilla.io/pool=hpc:NoSchedule"]}
  heartbeat: 5s
  extraArgs: ["-elastic-idle=5m"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(helm, "template", "flotilla", filepath.Join(root, "deploy", "helm", "flotilla"), "-n", "hpc", "-f", values)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(dir, "cache"), "HELM_CONFIG_HOME="+filepath.Join(dir, "config"),
		"HELM_DATA_HOME="+filepath.Join(dir, "data"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, stderr.String())
	}
	chart := map[string]any{}
	for _, doc := range strings.Split(string(out), "\n---") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("chart output: %v", err)
		}
		if m != nil {
			chart[key(m)] = normalize(t, m)
		}
	}
	objs, err := Render(v)
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]any{}
	for _, o := range objs {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			t.Fatal(err)
		}
		if m["kind"] == "Namespace" {
			continue
		}
		ours[key(m)] = normalize(t, m)
	}
	if diff := cmp.Diff(chart, ours); diff != "" {
		t.Errorf("Render differs from the chart (-chart +Render):\n%s", diff)
	}
}

func TestRenderRefusesMissingValues(t *testing.T) {
	for name, v := range map[string]Values{
		"no cluster": {HubURLs: []string{"https://h"}, BootstrapToken: "t"},
		"no hub":     {Cluster: "c", BootstrapToken: "t"},
		"no token":   {Cluster: "c", HubURLs: []string{"https://h"}},
	} {
		if _, err := Render(v); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func key(m map[string]any) string {
	md, _ := m["metadata"].(map[string]any)
	return m["kind"].(string) + "/" + str(md["namespace"]) + "/" + str(md["name"])
}

func str(v any) string { s, _ := v.(string); return s }

// normalize drops what differs by origin only (Helm's labels, empty
// timestamps and status) and gives numbers one JSON type.
func normalize(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	delete(out, "status")
	if md, ok := out["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
		if l, ok := md["labels"].(map[string]any); ok {
			delete(l, "helm.sh/chart")
			delete(l, "app.kubernetes.io/managed-by")
		}
	}
	if spec, ok := out["spec"].(map[string]any); ok {
		if tmpl, ok := spec["template"].(map[string]any); ok {
			if md, ok := tmpl["metadata"].(map[string]any); ok {
				delete(md, "creationTimestamp")
			}
		}
	}
	return out
}
