package install

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// serviceMonitor holds the fields of prometheus-operator's ServiceMonitor
// (monitoring.coreos.com/v1) the chart sets; decoding strictly refuses
// any other field, so a misspelt one fails here rather than in a cluster.
type serviceMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Scheme        string `json:"scheme"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
			TLSConfig     *struct {
				CA struct {
					Secret struct {
						Name string `json:"name"`
						Key  string `json:"key"`
					} `json:"secret"`
				} `json:"ca"`
				ServerName string `json:"serverName"`
			} `json:"tlsConfig"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// TestChartServiceMonitors renders the chart with the ServiceMonitors of
// hub and agent on (and off, the default: none rendered) and follows each
// monitor as Prometheus would: its selector picks exactly one Service, in
// the release's namespace; that Service selects the component's pods and
// has the endpoint's port, which lands on the port the binary serves
// /metrics on (the hub's API port, over HTTPS; the agent's
// -metrics-addr); the hub endpoint trusts the CA in the hub's TLS Secret
// and names a host the replicas' certificate carries. A bad interval is
// refused by the values schema.
func TestChartServiceMonitors(t *testing.T) {
	if testing.Short() {
		t.Skip("requires helm from `make tools`; skipped in -short")
	}
	off := renderChart(t, "agent: {enabled: true, cluster: east, hub: {bootstrapToken: flb_x}}\n")
	if len(off["ServiceMonitor"]) != 0 || off["Service"][release+"-hub-metrics"] != nil || off["Service"][release+"-agent-metrics"] != nil {
		t.Errorf("ServiceMonitors or metrics Services rendered by default: %v", off["ServiceMonitor"])
	}
	var dep appsv1.Deployment
	if err := yaml.Unmarshal(off["Deployment"][release+"-agent"], &dep); err != nil {
		t.Fatal(err)
	}
	for _, a := range dep.Spec.Template.Spec.Containers[0].Args {
		if strings.HasPrefix(a, "-metrics-addr") {
			t.Errorf("default agent args carry %s; the agent's default is :9460", a)
		}
	}

	r := renderChart(t, `
hub:
  metrics: {serviceMonitor: {enabled: true, interval: 15s, labels: {release: kube-prometheus}}}
agent:
  enabled: true
  cluster: east
  hub: {bootstrapToken: flb_x}
  metrics: {port: 9470, serviceMonitor: {enabled: true}}
`)
	if len(r["ServiceMonitor"]) != 2 {
		t.Fatalf("%d ServiceMonitors rendered, want the hub's and the agent's", len(r["ServiceMonitor"]))
	}
	var sts appsv1.StatefulSet
	if err := yaml.Unmarshal(r["StatefulSet"][release+"-hub"], &sts); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(r["Deployment"][release+"-agent"], &dep); err != nil {
		t.Fatal(err)
	}
	pods := map[string]*corev1.PodTemplateSpec{"hub": &sts.Spec.Template, "agent": &dep.Spec.Template}
	for component, pod := range pods {
		t.Run(component, func(t *testing.T) {
			var sm serviceMonitor
			if err := yaml.UnmarshalStrict(r["ServiceMonitor"][release+"-"+component], &sm); err != nil {
				t.Fatalf("ServiceMonitor %s-%s: %v", release, component, err)
			}
			if sm.APIVersion != "monitoring.coreos.com/v1" || sm.Metadata.Namespace != namespace ||
				fmt.Sprint(sm.Spec.NamespaceSelector.MatchNames) != "["+namespace+"]" || len(sm.Spec.Endpoints) != 1 {
				t.Fatalf("ServiceMonitor: %+v", sm)
			}
			if component == "hub" && sm.Metadata.Labels["release"] != "kube-prometheus" {
				t.Errorf("the hub monitor lacks the labels asked for: %v", sm.Metadata.Labels)
			}
			ep := sm.Spec.Endpoints[0]
			if ep.Path != "/metrics" || ep.Interval == "" || ep.ScrapeTimeout == "" {
				t.Errorf("endpoint %+v", ep)
			}
			// The Service the monitor selects: exactly one.
			var svc *corev1.Service
			for name, doc := range r["Service"] {
				var s corev1.Service
				if err := yaml.Unmarshal(doc, &s); err != nil {
					t.Fatal(err)
				}
				if labels.SelectorFromSet(sm.Spec.Selector.MatchLabels).Matches(labels.Set(s.Labels)) {
					if svc != nil {
						t.Errorf("the monitor selects Services %s and %s: scraped twice", svc.Name, name)
					}
					svc = &s
				}
			}
			if svc == nil {
				t.Fatal("the monitor selects no Service")
			}
			if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
				t.Errorf("Service %s does not select the %s pods", svc.Name, component)
			}
			var port *corev1.ServicePort
			for i := range svc.Spec.Ports {
				if svc.Spec.Ports[i].Name == ep.Port {
					port = &svc.Spec.Ports[i]
				}
			}
			if port == nil {
				t.Fatalf("Service %s has no port %q", svc.Name, ep.Port)
			}
			c := pod.Spec.Containers[0]
			switch component {
			case "hub":
				served := ""
				for _, a := range c.Args {
					if v, ok := strings.CutPrefix(a, "-http-addr=:"); ok {
						served = v
					}
				}
				var target int32
				for _, p := range c.Ports {
					if p.Name == port.TargetPort.String() {
						target = p.ContainerPort
					}
				}
				if fmt.Sprint(target) != served || ep.Scheme != "https" {
					t.Errorf("the monitor scrapes %s on container port %d, the hub serves its API (and /metrics) on :%s", ep.Scheme, target, served)
				}
				if sm.Spec.Endpoints[0].TLSConfig == nil {
					t.Fatal("no tlsConfig for the hub's HTTPS")
				}
				tc := sm.Spec.Endpoints[0].TLSConfig
				var mounted bool
				for _, v := range pod.Spec.Volumes {
					mounted = mounted || (v.Secret != nil && v.Secret.SecretName == tc.CA.Secret.Name)
				}
				if !mounted || tc.CA.Secret.Key != "ca.crt" {
					t.Errorf("the monitor trusts %s/%s, not the hub's TLS Secret", tc.CA.Secret.Name, tc.CA.Secret.Key)
				}
				tls, err := r.secret(tc.CA.Secret.Name)
				if err != nil {
					t.Fatal(err)
				}
				block, _ := pem.Decode(tls.Data["tls.crt"])
				if block == nil {
					t.Fatalf("no certificate in %s", tc.CA.Secret.Name)
				}
				cert, err := x509.ParseCertificate(block.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				if err := cert.VerifyHostname(tc.ServerName); err != nil {
					t.Errorf("serverName %s: %v", tc.ServerName, err)
				}
			case "agent":
				if port.TargetPort.IntValue() != 9470 || ep.Scheme != "http" || !contains(c.Args, "-metrics-addr=:9470") {
					t.Errorf("the monitor scrapes %s on port %s; agent args %v", ep.Scheme, port.TargetPort.String(), c.Args)
				}
			}
		})
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := newHelm(t, "").run(ctx, "template", release, chartDir(t), "--namespace", namespace,
		"-f", writeValues(t, "bad.yaml", "hub: {metrics: {serviceMonitor: {enabled: true, interval: soon}}}\n"))
	if err == nil || !strings.Contains(out+err.Error(), "interval") {
		t.Errorf("an interval of \"soon\" was not refused by the schema: %v\n%s", err, out)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
