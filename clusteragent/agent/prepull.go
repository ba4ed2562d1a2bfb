package agent

import (
	"sync"

	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/prepull"
)

// prepullNodes gives the pre-pull syncer the nodes of the agent's node
// informer (the scheduler cache), converted once per change: a pass
// costs no API call.
func prepullNodes(c *cache.Cache) func() ([]prepull.Node, uint64, bool) {
	var mu sync.Mutex
	var last []prepull.Node
	lastGen, have := uint64(0), false
	return func() ([]prepull.Node, uint64, bool) {
		nodes, gen, ok := c.Nodes()
		if !ok {
			return nil, 0, false
		}
		mu.Lock()
		defer mu.Unlock()
		if !have || gen != lastGen {
			last = make([]prepull.Node, len(nodes))
			for i, n := range nodes {
				last[i] = prepull.Node{Name: n.Name, Arch: n.Labels[prepull.ArchLabel], Labels: n.Labels}
			}
			lastGen, have = gen, true
		}
		return last, gen, true
	}
}
