package hub

import (
	"context"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// keyUse records when API keys were last used, to the hour: a replica
// writes a key's time at most once an hour, in the background, and not at
// all when the stored time is already this hour. A conflicting write (the
// user changed meanwhile) is dropped: another request will record it.
type keyUse struct {
	mu   sync.Mutex
	seen map[string]time.Time // key id → hour last recorded by this replica
}

// maxKeyUseSeen bounds the memory of recorded keys; past it, it starts over.
const maxKeyUseSeen = 100000

// keyUsed is the API's KeyUsed hook.
func (h *Hub) keyUsed(id *auth.Identity) {
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
	go h.recordKeyUse(id.Username, id.KeyID, hour)
}

func (h *Hub) recordKeyUse(username, keyID string, hour time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		select {
		case <-h.stopped:
			cancel()
		case <-ctx.Done():
		}
	}()
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
