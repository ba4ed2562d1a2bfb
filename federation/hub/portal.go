package hub

import (
	"context"

	"github.com/flotilla-hpc/flotilla/federation/portal"
)

// startPortal puts the web portal in front of the API (it serves /ui/ and
// hands every other path to the API) and samples cluster capacity for
// its charts until the replica stops.
func (h *Hub) startPortal() error {
	if h.cfg.NoPortal {
		return nil
	}
	pc := h.cfg.Portal
	pc.Hub, pc.API, pc.Auth = h, h.api, h.authn
	pc.Logger = h.log.With("component", "portal")
	if h.cfg.TLS == nil {
		// Plain HTTP is for loopback only; a Secure cookie would not be
		// sent back over it by every browser.
		pc.InsecureCookies = true
	}
	p, err := portal.New(pc)
	if err != nil {
		return err
	}
	h.web = p
	h.srv.Handler = p.Wrap(h.api)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-h.stopped
		cancel()
		p.Stop() // event streams end, so a graceful shutdown need not wait for them
	}()
	go p.Run(ctx)
	return nil
}

// Portal is the replica's web portal, nil when it serves none.
func (h *Hub) Portal() *portal.Portal { return h.web }
