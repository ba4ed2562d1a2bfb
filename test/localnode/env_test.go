package localnode

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	cases := map[string]struct{ in, want string }{
		"plain":          {"abc", "abc"},
		"one":            {"x$(A)y", "x1y"},
		"two":            {"$(A)$(B)", "1two"},
		"undefined kept": {"$(C)", "$(C)"},
		"escaped":        {"$$(A)", "$(A)"},
		"lone dollar":    {"cost $5", "cost $5"},
		"unterminated":   {"$(A", "$(A"},
	}
	for name, tc := range cases {
		if got := expand(tc.in, vars); got != tc.want {
			t.Errorf("%s: expand(%q) = %q, want %q", name, tc.in, got, tc.want)
		}
	}
}

func TestFieldValue(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "n", UID: "u",
			Labels: map[string]string{"app": "x"}, Annotations: map[string]string{"a/b": "c"}},
		Spec:   corev1.PodSpec{NodeName: "node"},
		Status: corev1.PodStatus{PodIP: "10.0.0.2", PodIPs: []corev1.PodIP{{IP: "10.0.0.2"}}},
	}
	cases := map[string]string{
		"metadata.name": "p", "metadata.namespace": "n", "metadata.uid": "u",
		"metadata.labels['app']": "x", "metadata.annotations['a/b']": "c",
		"spec.nodeName": "node", "status.podIP": "10.0.0.2", "status.podIPs": "10.0.0.2",
	}
	for path, want := range cases {
		got, err := fieldValue(pod, path)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := fieldValue(pod, "spec.nope"); err == nil {
		t.Error("an unknown field path was accepted")
	}
}

func TestLastLines(t *testing.T) {
	cases := map[string]struct {
		in   string
		n    int
		want string
	}{
		"fewer lines than asked": {"a\nb\n", 5, "a\nb\n"},
		"last two":               {"a\nb\nc\n", 2, "b\nc\n"},
		"no final newline":       {"a\nb\nc", 1, "c"},
		"empty":                  {"", 3, ""},
	}
	for name, tc := range cases {
		if got := string(lastLines([]byte(tc.in), tc.n)); got != tc.want {
			t.Errorf("%s: got %q, want %q", name, got, tc.want)
		}
	}
}

func TestHostsFile(t *testing.T) {
	a := hostEntry{namespace: "jobs", subdomain: "j7", hostname: "j7-0", ip: "10.214.0.2"}
	b := hostEntry{namespace: "jobs", subdomain: "j7", hostname: "j7-1", ip: "10.214.0.3"}
	got := string(hostsFile(a, []hostEntry{a, b}))
	for _, want := range []string{
		"10.214.0.2\tj7-0.j7.jobs.svc.cluster.local j7-0.j7.jobs.svc j7-0.j7.jobs j7-0.j7 j7-0\n",
		"10.214.0.3\tj7-1.j7.jobs.svc.cluster.local j7-1.j7.jobs.svc j7-1.j7.jobs j7-1.j7 j7-1\n",
		"127.0.0.1\tlocalhost\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts file lacks %q:\n%s", want, got)
		}
	}
}
