package agentd

import (
	"fmt"
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
