package api

import (
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// defaultWebhookKeyGrace is a rotation's grace period when none is given.
const defaultWebhookKeyGrace = 24 * time.Hour

// rotateWebhookKey is POST /v1/webhooks/rotate-key {"grace": "24h"}: a
// system administrator replaces the hub's webhook signing key (raft
// command WebhookKeyRotate; the new key made here, never shown). Every
// owner's callback secret changes; for the grace period owners' callbacks
// carry the old secret's signature beside the new one's. Audited
// (webhooks.rotate-key) without a key.
func (s *Server) rotateWebhookKey(c *call) (any, error) {
	if err := c.id.CheckGlobalAdmin("webhook settings"); err != nil {
		return nil, err
	}
	var req structs.WebhookKeyRotateRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	grace := defaultWebhookKeyGrace
	if req.Grace != "" {
		d, err := time.ParseDuration(req.Grace)
		if err != nil || d < 0 || d > structs.MaxWebhookKeyGrace {
			return nil, invalid("grace %q: want a duration from 0s to %s, such as 24h", req.Grace, structs.MaxWebhookKeyGrace)
		}
		grace = d
	}
	c.object = structs.WebhookSettingsName
	now := s.now().UTC()
	v, err := s.writes.Write(c.r.Context(), &fsm.WebhookKeyRotate{NewKey: randomHex(32), Grace: grace, Time: now})
	if err != nil {
		return nil, err
	}
	set := v.(*structs.WebhookSettings)
	c.setIndex(set.ModifyIndex)
	return &structs.WebhookKeyRotated{Rotated: now, PreviousUntil: set.PreviousUntil}, nil
}
