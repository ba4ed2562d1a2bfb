package install

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// rendered is the output of `helm template`, by kind and name.
type rendered map[string]map[string][]byte

func (r rendered) secret(name string) (*corev1.Secret, error) {
	var s corev1.Secret
	b, ok := r["Secret"][name]
	if !ok {
		return nil, fmt.Errorf("the chart renders no Secret %s", name)
	}
	return &s, yaml.Unmarshal(b, &s)
}

func (r rendered) configMap(name string) (*corev1.ConfigMap, error) {
	var c corev1.ConfigMap
	b, ok := r["ConfigMap"][name]
	if !ok {
		return nil, fmt.Errorf("the chart renders no ConfigMap %s", name)
	}
	return &c, yaml.Unmarshal(b, &c)
}

// renderChart runs `helm template` with the values given as YAML.
func renderChart(t *testing.T, values string) rendered {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := newHelm(t, "").must(ctx, "template", release, chartDir(t), "--namespace", namespace,
		"-f", writeValues(t, "values.yaml", values))
	r := rendered{}
	for _, doc := range strings.Split(out, "\n---\n") {
		var meta struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("helm template printed a document that is not YAML: %v\n%s", err, doc)
		}
		if meta.Kind == "" {
			continue
		}
		if r[meta.Kind] == nil {
			r[meta.Kind] = map[string][]byte{}
		}
		r[meta.Kind][meta.Metadata.Name] = []byte(doc)
	}
	return r
}

// TestChartHubReplicaSettings renders the chart for hubs of several shapes
// and runs every replica's settings (its flags, its replica file, the
// generated TLS material and secrets) through flotilla-hub's own parser
// and TLS loader: the bootstrap replicas share one list, replicas added
// later join through the API Service, and the certificate covers every
// address, whatever the release name and cluster domain.
func TestChartHubReplicaSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("requires helm from `make tools`; skipped in -short")
	}
	cases := map[string]struct {
		values              string
		fullname            string
		replicas, bootstrap int
		batchImage          string // -batch-image, "" for none
		privateCatalog      bool   // -private-catalog
	}{
		"defaults": {values: "{}", fullname: release, replicas: 3, bootstrap: 3},
		"a default image for job scripts": {values: "hub:\n  batchImage: registry.example/hpc/base:2026.12\n", fullname: release, replicas: 3, bootstrap: 3,
			batchImage: "registry.example/hpc/base:2026.12"},
		"a private catalog":                          {values: "hub:\n  privateCatalog: true\n", fullname: release, replicas: 3, bootstrap: 3, privateCatalog: true},
		"five replicas, three bootstrap, own domain": {values: "fullnameOverride: hpc\nclusterDomain: corp.example\nhub:\n  replicas: 5\n  bootstrapReplicas: 3\n", fullname: "hpc", replicas: 5, bootstrap: 3},
		"a single replica":                           {values: "hub:\n  replicas: 1\n  bootstrapReplicas: 1\n", fullname: release, replicas: 1, bootstrap: 1},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := renderChart(t, c.values)
			var sts appsv1.StatefulSet
			if err := yaml.Unmarshal(r["StatefulSet"][c.fullname+"-hub"], &sts); err != nil {
				t.Fatal(err)
			}
			if int(*sts.Spec.Replicas) != c.replicas {
				t.Fatalf("StatefulSet replicas %d, want %d", *sts.Spec.Replicas, c.replicas)
			}
			spec := sts.Spec.Template.Spec.DeepCopy()
			for _, claim := range sts.Spec.VolumeClaimTemplates {
				spec.Volumes = append(spec.Volumes, corev1.Volume{Name: claim.Name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			}
			service := fmt.Sprintf("%s-hub.%s.svc", c.fullname, namespace)
			var peers string
			for i := range c.replicas {
				pod := fmt.Sprintf("%s-hub-%d", c.fullname, i)
				args := podFiles(t, r, pod, spec, &spec.Containers[0])
				s := checkHubSettings(t, args, pod, c.bootstrap, service)
				if s.BatchImage != c.batchImage {
					t.Errorf("%s: -batch-image %q, want %q", pod, s.BatchImage, c.batchImage)
				}
				if s.PrivateCatalog != c.privateCatalog {
					t.Errorf("%s: private catalog %v, want %v", pod, s.PrivateCatalog, c.privateCatalog)
				}
				if i < c.bootstrap {
					if peers == "" {
						peers = s.Bootstrap.String()
					} else if s.Bootstrap.String() != peers {
						t.Errorf("%s bootstraps from %s, replica 0 from %s", pod, s.Bootstrap, peers)
					}
				}
			}
			if _, hasPDB := r["PodDisruptionBudget"][c.fullname+"-hub"]; hasPDB != (c.replicas > 1) {
				t.Errorf("PodDisruptionBudget rendered: %v, with %d replicas", hasPDB, c.replicas)
			}
		})
	}
}
