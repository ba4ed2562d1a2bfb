package localnode

import (
	"fmt"
	"math"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// containerEnv resolves a container's environment as the kubelet does:
// envFrom sources first, then env in order, later names replacing earlier
// ones; $(NAME) in values refers to names defined before. fieldRef sees
// the pod with its status (pod IP) filled in.
func containerEnv(pod *corev1.Pod, c *corev1.Container, objs objects) ([]string, error) {
	var order []string
	vals := map[string]string{}
	put := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	for _, from := range c.EnvFrom {
		var data map[string][]byte
		var err error
		switch {
		case from.SecretRef != nil:
			data, err = objs.secret(pod.Namespace, from.SecretRef.Name, from.SecretRef.Optional != nil && *from.SecretRef.Optional)
		case from.ConfigMapRef != nil:
			data, err = objs.configMap(pod.Namespace, from.ConfigMapRef.Name, from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional)
		}
		if err != nil {
			return nil, fmt.Errorf("envFrom: %w", err)
		}
		for k, v := range data {
			put(from.Prefix+k, string(v))
		}
	}
	for _, e := range c.Env {
		v, err := envValue(pod, c, e, objs, vals)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		put(e.Name, v)
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out, nil
}

func envValue(pod *corev1.Pod, c *corev1.Container, e corev1.EnvVar, objs objects, defined map[string]string) (string, error) {
	src := e.ValueFrom
	if src == nil {
		return expand(e.Value, defined), nil
	}
	switch {
	case src.FieldRef != nil:
		return fieldValue(pod, src.FieldRef.FieldPath)
	case src.ResourceFieldRef != nil:
		return resourceValue(c, src.ResourceFieldRef)
	case src.SecretKeyRef != nil:
		r := src.SecretKeyRef
		return keyValue(objs.secret, pod.Namespace, r.Name, r.Key, r.Optional)
	case src.ConfigMapKeyRef != nil:
		r := src.ConfigMapKeyRef
		return keyValue(objs.configMap, pod.Namespace, r.Name, r.Key, r.Optional)
	}
	return "", fmt.Errorf("value source %w", ErrUnsupported)
}

func keyValue(get func(ns, name string, optional bool) (map[string][]byte, error), ns, name, key string, opt *bool) (string, error) {
	optional := opt != nil && *opt
	data, err := get(ns, name, optional)
	if err != nil {
		return "", err
	}
	v, ok := data[key]
	if !ok && !optional {
		return "", fmt.Errorf("%s/%s has no key %q: %w", ns, name, key, ErrNotYet)
	}
	return string(v), nil
}

// fieldValue is a pod field the downward API exposes.
func fieldValue(pod *corev1.Pod, path string) (string, error) {
	if k, ok := cutBracket(path, "metadata.labels"); ok {
		return pod.Labels[k], nil
	}
	if k, ok := cutBracket(path, "metadata.annotations"); ok {
		return pod.Annotations[k], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return pod.Status.HostIP, nil
	case "status.podIP":
		return pod.Status.PodIP, nil
	case "status.podIPs":
		ips := make([]string, 0, len(pod.Status.PodIPs))
		for _, ip := range pod.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		return strings.Join(ips, ","), nil
	}
	return "", fmt.Errorf("field %q: %w", path, ErrUnsupported)
}

// cutBracket parses prefix['key'].
func cutBracket(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

// resourceValue is a container's request or limit in the divisor's units,
// rounded up as the kubelet does.
func resourceValue(c *corev1.Container, r *corev1.ResourceFieldSelector) (string, error) {
	kind, name, ok := strings.Cut(r.Resource, ".")
	if !ok {
		return "", fmt.Errorf("resource %q: %w", r.Resource, ErrUnsupported)
	}
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		return "0", nil
	}
	div := r.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	return fmt.Sprint(int64(math.Ceil(q.AsApproximateFloat64() / div.AsApproximateFloat64()))), nil
}

// expand replaces $(NAME) with NAME's value when defined; $$ escapes a $.
// Undefined references stay as written, as the kubelet leaves them.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '(':
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				name := s[i+2 : i+2+end]
				if v, ok := vars[name]; ok {
					b.WriteString(v)
				} else {
					b.WriteString(s[i : i+3+end])
				}
				i += 2 + end
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// expandAll expands each of args with the container's environment.
func expandAll(args, env []string) []string {
	vars := map[string]string{}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		vars[k] = v
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = expand(a, vars)
	}
	return out
}
