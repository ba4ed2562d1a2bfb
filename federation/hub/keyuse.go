package hub

import (
	"context"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// keyUse records when API keys were last used, to the hour: a replica
// writes a key's time at most once an hour (before the reply of the first
// successful request of the hour, bounded to a second), and not at all
// when the stored time is already this hour. A failed or conflicting
// write (the user changed meanwhile) is dropped: it does not fail the
// request, and a later hour records the key again.
type keyUse struct {
	mu   sync.Mutex
	seen map[string]time.Time // key id → hour last recorded by this replica
}

// maxKeyUseSeen bounds the memory of recorded keys; past it, it starts over.
const maxKeyUseSeen = 100000

// keyUsed is the API's KeyUsed hook.
func (h *Hub) keyUsed(ctx context.Context, id *authz.Identity) {
	hour := h.now().UTC().Truncate(time.Hour)
	k := &h.keys
	k.mu.Lock()
	if k.seen == nil || len(k.seen) >= maxKeyUseSeen {
		k.seen = map[string]time.Time{}
	}
	if k.seen[id.KeyID].Equal(hour) {
		k.mu.Unlock()
		return
	}
	k.seen[id.KeyID] = hour
	k.mu.Unlock()
	h.recordKeyUse(ctx, id.Username, id.KeyID, hour)
}

func (h *Hub) recordKeyUse(ctx context.Context, username, keyID string, hour time.Time) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	u, err := h.store.Read().User(username)
	if err != nil {
		return
	}
	u = u.Copy()
	for i := range u.APIKeys {
		k := &u.APIKeys[i]
		if k.ID != keyID || k.Session {
			continue
		}
		if !k.LastUsed.Before(hour) {
			return
		}
		k.LastUsed = hour
		if _, err := h.Write(ctx, &fsm.UserUpsert{User: *u, CAS: structs.CASOf(&u.RaftIndex)}); err != nil {
			h.log.Debug("recording an api key's last use", "user", username, "key", keyID, "error", err)
		}
		return
	}
}
