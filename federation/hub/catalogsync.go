package hub

import (
	"context"
	"net/http"
	"time"

	"github.com/flotilla-hpc/flotilla/catalog-sync/source"
	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/client"
)

// DefaultCatalogSyncInterval is how often the leader syncs the configured
// catalog sources (CatalogSync.Interval 0).
const DefaultCatalogSyncInterval = time.Hour

// CatalogSync is the catalog sources the leader syncs periodically.
type CatalogSync struct {
	Sources  []source.Spec
	Interval time.Duration
}

// catalogSyncer is the identity the periodic sync writes as: a global
// administrator of no tenant, recorded as such in the apps it writes.
var catalogSyncer = &authz.Identity{Username: "catalog-sync", Global: true}

// runCatalogSync syncs every configured source at start and every
// Interval while this replica leads, until it stops. Each sync goes
// through the replica's own API (as catalogSyncer), so its writes are
// checked and replicated like any other; a source that fails is logged
// and tried again next time.
func (h *Hub) runCatalogSync() {
	defer close(h.catDone)
	cs := h.cfg.CatalogSync
	if len(cs.Sources) == 0 {
		return
	}
	if cs.Interval <= 0 {
		cs.Interval = DefaultCatalogSyncInterval
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-h.stopped
		cancel()
	}()
	cl, err := client.New([]string{"http://catalog-sync.invalid"}, "",
		client.WithHTTPClient(&http.Client{Transport: h.apiAs(catalogSyncer)}))
	if err != nil {
		h.log.Error("catalog sync", "err", err)
		return
	}
	cat := source.HubCatalog{Client: cl}
	tick := time.NewTicker(min(cs.Interval, 5*time.Second))
	defer tick.Stop()
	var last time.Time
	for {
		if h.node.IsLeader() && (last.IsZero() || h.now().Sub(last) >= cs.Interval) {
			last = h.now()
			h.SyncCatalog(ctx, cat, cs.Sources)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// SyncCatalog syncs each source into cat and logs its report.
func (h *Hub) SyncCatalog(ctx context.Context, cat source.Catalog, specs []source.Spec) []*source.Report {
	var out []*source.Report
	for _, sp := range specs {
		src, err := sp.Open()
		if err != nil {
			h.log.Warn("catalog source", "source", sp.Source, "err", err)
			continue
		}
		rep, err := source.Sync(ctx, src, cat)
		if err != nil {
			if ctx.Err() == nil {
				h.log.Warn("catalog sync", "origin", src.Origin(), "err", err)
			}
			continue
		}
		out = append(out, rep)
		h.log.Info("catalog synced", "origin", rep.Origin, "added", rep.Added, "updated", rep.Updated,
			"removed", rep.Removed, "refused", len(rep.Refused))
		for _, r := range rep.Refused {
			h.log.Warn("catalog app refused", "origin", rep.Origin, "app", r.App, "reason", r.Reason)
		}
	}
	return out
}
