package runtime

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc"
)

// tcpPorts parses an AppDef command's ports ("5901/tcp", "8080") into
// service ports, keeping TCP ones in order; the first is the web port the
// Ingress routes to.
func tcpPorts(ports []string) ([]corev1.ServicePort, error) {
	var out []corev1.ServicePort
	for _, s := range ports {
		num, proto, _ := strings.Cut(strings.TrimSpace(s), "/")
		n, err := strconv.ParseUint(num, 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("port %q: want NUMBER[/tcp|/udp]", s)
		}
		switch strings.ToLower(proto) {
		case "", "tcp":
		case "udp":
			continue
		default:
			return nil, fmt.Errorf("port %q: protocol %q", s, proto)
		}
		out = append(out, corev1.ServicePort{
			Name:       "tcp-" + num,
			Protocol:   corev1.ProtocolTCP,
			Port:       int32(n),
			TargetPort: intstr.FromInt32(int32(n)),
		})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("interactive command without a TCP port")
	}
	return out, nil
}

// publicAddr is the host an interactive job is reached at.
func (r *renderer) publicAddr() string { return r.name + "." + r.opts.JobsDomain }

// baseURL is the job's address without its token: https (with the
// Ingress's TLS) or http to its host.
func (r *renderer) baseURL() string {
	if r.opts.IngressTLSSecret != "" {
		return "https://" + r.publicAddr() + "/"
	}
	return "http://" + r.publicAddr() + "/"
}

// url fills in the command's URL template (default https or http, by
// whether the Ingress has TLS, to the public address): %PUBLICADDR% is the
// job's host, %RANDOM64% its token, %JOBNAME% podgroup.JobName. The token
// is added as the guard's query parameter (initproc.GuardQuery): the
// guard trades it for a cookie on the first visit.
func (r *renderer) url(token string) string {
	tmpl := r.in.Command.URL
	if tmpl == "" {
		tmpl = "http://%PUBLICADDR%/"
		if r.opts.IngressTLSSecret != "" {
			tmpl = "https://%PUBLICADDR%/"
		}
	}
	filled := strings.NewReplacer(
		"%PUBLICADDR%", r.publicAddr(),
		"%RANDOM64%", token,
		"%BASEURL%", r.baseURL(),
		"%JOBNAME%", r.name,
	).Replace(tmpl)
	param := initproc.GuardQuery + "=" + url.QueryEscape(token)
	u, err := url.Parse(filled)
	if err != nil || u.RawQuery == "" {
		base, frag, hasFrag := strings.Cut(filled, "#")
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		if hasFrag {
			return base + sep + param + "#" + frag
		}
		return base + sep + param
	}
	u.RawQuery += "&" + param // keeps the template's own parameters in order
	return u.String()
}

// ShareSecretName names the optional Secret of an interactive job's share
// links: one key per link, its value a token that opens the job besides
// the owner's. Deleting a key revokes that link.
func ShareSecretName(number uint64) string { return podgroup.JobName(number) + "-shares" }

// WebServiceName names the Service of an interactive job's head ports; the
// first port is the one the Ingress routes to.
func WebServiceName(number uint64) string { return podgroup.JobName(number) + "-web" }

// webName names the Service of an interactive job's head.
func (r *renderer) webName() string { return WebServiceName(r.job.Number) }

// webService leads to the head's token guard, never to the app directly:
// its one port is the app's web port, served by the guard.
func (r *renderer) webService(web corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: r.meta(r.webName()),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: r.selector(true),
			Ports: []corev1.ServicePort{{
				Name: "guard", Protocol: corev1.ProtocolTCP, Port: web.Port, TargetPort: intstr.FromInt32(r.opts.GuardPort),
			}},
		},
	}
}

func (r *renderer) ingress(web corev1.ServicePort) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: r.meta(r.name),
		Spec: networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{
				Host: r.publicAddr(),
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path:     "/",
						PathType: new(networkingv1.PathTypePrefix),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: r.webName(),
							Port: networkingv1.ServiceBackendPort{Number: web.Port},
						}},
					}},
				}},
			}},
		},
	}
	if r.opts.IngressClass != "" {
		ing.Spec.IngressClassName = new(r.opts.IngressClass)
	}
	if r.opts.IngressTLSSecret != "" {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{r.publicAddr()}, SecretName: r.opts.IngressTLSSecret}}
	}
	for k, v := range r.opts.IngressAnnotations {
		ing.Annotations[k] = v
	}
	return ing
}
