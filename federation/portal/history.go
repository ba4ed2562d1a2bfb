package portal

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/state"
)

// History keeps, per replica and in memory, the last hours of each
// cluster's utilisation (used nodes over total, all machine types), as
// the heartbeats report it: the admin page plots it. A restarted replica
// starts afresh.
type history struct {
	mu   sync.Mutex
	keep time.Duration
	byC  map[string][]sample
}

type sample struct {
	At         time.Time
	Used, Size int
}

const historyKeep = 6 * time.Hour

func newHistory() *history { return &history{keep: historyKeep, byC: map[string][]sample{}} }

func (h *history) add(cluster string, s sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	list := h.byC[cluster]
	if n := len(list); n > 0 && s.At.Sub(list[n-1].At) < 30*time.Second {
		list[n-1] = s // at most one sample per 30 s
	} else {
		list = append(list, s)
	}
	cut := 0
	for cut < len(list) && s.At.Sub(list[cut].At) > h.keep {
		cut++
	}
	h.byC[cluster] = list[cut:]
}

func (h *history) samples(cluster string) []sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sample(nil), h.byC[cluster]...)
}

// Run samples the clusters' capacity whenever heartbeats change it, until
// ctx ends.
func (p *Portal) Run(ctx context.Context) {
	var index uint64
	for ctx.Err() == nil {
		txn := p.hub.Store().Read()
		index = txn.Index(state.TableClusters)
		if cs, err := txn.Clusters(); err == nil {
			now := p.hub.Now()
			for _, c := range cs {
				s := sample{At: now}
				for _, cp := range c.Capacity {
					s.Used += cp.Total - cp.Free
					s.Size += cp.Total
				}
				p.history.add(c.Name, s)
			}
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		_, _ = p.hub.Store().WaitForIndex(wctx, state.TableClusters, index)
		cancel()
	}
}

// chart is an inline SVG polyline of utilisation (0–100 %) over the kept
// hours, drawn on the server.
type chart struct {
	Points string // "x,y x,y ..." in a 300×60 box
	Last   string // the latest figure, as text
	Empty  bool
}

func chartOf(ss []sample, now time.Time) chart {
	if len(ss) == 0 {
		return chart{Empty: true, Last: "no samples yet"}
	}
	var b strings.Builder
	for _, s := range ss {
		x := 300 - 300*now.Sub(s.At).Seconds()/historyKeep.Seconds()
		pct := 0.0
		if s.Size > 0 {
			pct = float64(s.Used) / float64(s.Size)
		}
		fmt.Fprintf(&b, "%.1f,%.1f ", max(x, 0), 60-58*pct)
	}
	l := ss[len(ss)-1]
	return chart{Points: strings.TrimSpace(b.String()), Last: fmt.Sprintf("%d of %d nodes in use", l.Used, l.Size)}
}
