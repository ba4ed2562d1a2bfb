package agentd

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"strconv"
	"strings"
)

// ParseWeights reads the scheduler's resource weights written as "cpu=1,memory=0.5,
// nvidia.com/gpu=8". An empty string gives nil (the defaults).
func ParseWeights(s string) (map[string]float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	out := map[string]float64{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("weights: %q is not resource=weight", kv)
		}
		w, err := strconv.ParseFloat(v, 64)
		if err != nil || w < 0 {
			return nil, fmt.Errorf("weights: %q: weight must be a non-negative number", kv)
		}
		out[k] = w
	}
	return out, nil
}

// ParseTolerations reads tolerations written as "key=value:Effect" or
// "key:Effect" (any value), comma-separated.
func ParseTolerations(s string) ([]corev1.Toleration, error) {
	var out []corev1.Toleration
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		kv, effect, ok := strings.Cut(item, ":")
		if !ok || kv == "" {
			return nil, fmt.Errorf("toleration %q: want key=value:Effect", item)
		}
		switch corev1.TaintEffect(effect) {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			return nil, fmt.Errorf("toleration %q: effect must be NoSchedule, PreferNoSchedule or NoExecute", item)
		}
		t := corev1.Toleration{Effect: corev1.TaintEffect(effect), Operator: corev1.TolerationOpExists, Key: kv}
		if k, v, hasValue := strings.Cut(kv, "="); hasValue {
			t.Key, t.Value, t.Operator = k, v, corev1.TolerationOpEqual
		}
		out = append(out, t)
	}
	return out, nil
}
