package scheduler

import (
	"math"
	"slices"
)

// Resource names, as used in Options.Weights and Resources.Get.
const (
	ResourceCPU              = "cpu"
	ResourceMemory           = "memory"
	ResourceGPU              = "nvidia.com/gpu"
	ResourcePods             = "pods"
	ResourceEphemeralStorage = "ephemeral-storage"
)

// Resources is a vector of resource quantities in base units: milli-CPU,
// bytes, and counts. Extended holds every other named resource (for example
// "rdma/hca_shared_devices"); a missing name means zero. Resources behaves
// as a value: its methods never write to an Extended map that a copy may
// share.
type Resources struct {
	MilliCPU         int64
	Memory           int64 // bytes
	GPU              int64 // nvidia.com/gpu
	Pods             int64
	EphemeralStorage int64 // bytes
	Extended         map[string]int64
}

// Get returns the quantity of the named resource.
func (r Resources) Get(name string) int64 {
	switch name {
	case ResourceCPU:
		return r.MilliCPU
	case ResourceMemory:
		return r.Memory
	case ResourceGPU:
		return r.GPU
	case ResourcePods:
		return r.Pods
	case ResourceEphemeralStorage:
		return r.EphemeralStorage
	}
	return r.Extended[name]
}

// Set sets the quantity of the named resource.
func (r *Resources) Set(name string, v int64) {
	switch name {
	case ResourceCPU:
		r.MilliCPU = v
	case ResourceMemory:
		r.Memory = v
	case ResourceGPU:
		r.GPU = v
	case ResourcePods:
		r.Pods = v
	case ResourceEphemeralStorage:
		r.EphemeralStorage = v
	default:
		r.Extended = r.Clone().Extended
		if r.Extended == nil {
			r.Extended = make(map[string]int64, 1)
		}
		r.Extended[name] = v
	}
}

// Clone returns a copy of r that shares no map with it.
func (r Resources) Clone() Resources {
	if r.Extended != nil {
		ext := make(map[string]int64, len(r.Extended))
		for k, v := range r.Extended {
			ext[k] = v
		}
		r.Extended = ext
	}
	return r
}

// Add adds o to r in place. Like Set, it never writes to a map that a copy
// of r may share.
func (r *Resources) Add(o Resources) { r.combine(o, 1) }

// Sub subtracts o from r in place.
func (r *Resources) Sub(o Resources) { r.combine(o, -1) }

func (r *Resources) combine(o Resources, sign int64) {
	r.MilliCPU += sign * o.MilliCPU
	r.Memory += sign * o.Memory
	r.GPU += sign * o.GPU
	r.Pods += sign * o.Pods
	r.EphemeralStorage += sign * o.EphemeralStorage
	if len(o.Extended) == 0 {
		return
	}
	*r = r.Clone()
	if r.Extended == nil {
		r.Extended = make(map[string]int64, len(o.Extended))
	}
	for k, v := range o.Extended {
		r.Extended[k] += sign * v
	}
}

// FitsIn reports whether every quantity of r is at most the same quantity
// of free.
func (r Resources) FitsIn(free Resources) bool {
	if r.MilliCPU > free.MilliCPU || r.Memory > free.Memory || r.GPU > free.GPU ||
		r.Pods > free.Pods || r.EphemeralStorage > free.EphemeralStorage {
		return false
	}
	for k, v := range r.Extended {
		if v > free.Extended[k] {
			return false
		}
	}
	return true
}

// Dimensions of the dense vectors used inside a cycle. Extended resources
// follow the built-in ones in name order.
const (
	dimCPU = iota
	dimMemory
	dimGPU
	dimPods
	dimEphemeral
	numBuiltinDims
)

// noPodLimit stands in for the pod capacity of a node that declares none.
const noPodLimit = 1 << 40

const gib = 1 << 30

// layout maps named resources to dense vector dimensions for one cycle and
// holds the per-dimension coefficients of the weighted capacity.
type layout struct {
	names []string       // per dimension
	ext   map[string]int // extended name → dimension
	coef  []float64      // weight / unit, per dimension
	unit  []float64      // base units per display unit
	dims  int            // len(names)
}

// newLayout builds the layout for the given extended resource names (any
// order, duplicates allowed) and weights.
func newLayout(extNames []string, weights map[string]float64) *layout {
	ext := slices.Clone(extNames)
	slices.Sort(ext)
	ext = slices.Compact(ext)
	l := &layout{
		names: append([]string{ResourceCPU, ResourceMemory, ResourceGPU, ResourcePods, ResourceEphemeralStorage}, ext...),
		ext:   make(map[string]int, len(ext)),
	}
	l.dims = len(l.names)
	l.unit = make([]float64, l.dims)
	l.coef = make([]float64, l.dims)
	for i, name := range l.names {
		if i >= numBuiltinDims {
			l.ext[name] = i
		}
		unit, weight := 1.0, 1.0
		switch i {
		case dimCPU:
			unit = 1000
		case dimMemory, dimEphemeral:
			unit = gib
		}
		if i == dimPods || i == dimEphemeral {
			weight = 0
		}
		if w, ok := weights[name]; ok {
			weight = w
		}
		if !(weight >= 0) || math.IsInf(weight, 0) { // negative, NaN or infinite
			weight = 0
		}
		l.unit[i] = unit
		l.coef[i] = weight / unit
	}
	return l
}

// vector writes r into dst (len dims). For pod requests the pods dimension
// is at least 1; negative quantities are reported through neg.
func (l *layout) vector(r Resources, dst []int64, podRequest bool) (neg string) {
	dst[dimCPU] = r.MilliCPU
	dst[dimMemory] = r.Memory
	dst[dimGPU] = r.GPU
	dst[dimPods] = r.Pods
	dst[dimEphemeral] = r.EphemeralStorage
	for i := numBuiltinDims; i < l.dims; i++ {
		dst[i] = 0
	}
	for k, v := range r.Extended {
		if i, ok := l.ext[k]; ok {
			dst[i] = v
		}
	}
	for i, v := range dst {
		if v < 0 {
			if neg == "" || l.names[i] < neg {
				neg = l.names[i]
			}
			dst[i] = 0
		}
	}
	if podRequest && dst[dimPods] < 1 {
		dst[dimPods] = 1
	}
	return neg
}

// weigh returns the weighted sum of v. It is monotone: if a ≥ b in every
// dimension then weigh(a) ≥ weigh(b), exactly, because every step (int to
// float conversion, multiplication by a non-negative constant, addition in
// a fixed order) rounds monotonically. Placement relies on this to skip
// nodes whose weighted free capacity is below a request's weight.
func (l *layout) weigh(v []int64) float64 {
	var s float64
	coef := l.coef[:len(v)]
	for i, q := range v {
		s += coef[i] * float64(q)
	}
	return s
}

// fits reports whether req ≤ free in every dimension.
func fits(free, req []int64) bool {
	free = free[:len(req)]
	for i, q := range req {
		if free[i] < q {
			return false
		}
	}
	return true
}

// sub subtracts req from v in place.
func sub(v, req []int64) {
	v = v[:len(req)]
	for i, q := range req {
		v[i] -= q
	}
}

// add adds req to v in place.
func add(v, req []int64) {
	v = v[:len(req)]
	for i, q := range req {
		v[i] += q
	}
}

// copies returns how many times req fits into free, capped at limit.
func copies(free, req []int64, limit int) int {
	if limit == 1 {
		if fits(free, req) {
			return 1
		}
		return 0
	}
	n := limit
	free = free[:len(req)]
	for i, q := range req {
		if q <= 0 {
			continue
		}
		if free[i] < q {
			return 0
		}
		if c := free[i] / q; c < int64(n) {
			n = int(c)
		}
	}
	return n
}
