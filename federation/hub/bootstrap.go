package hub

import (
	"context"
	"errors"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// background runs while the replica is up: whenever this replica becomes
// leader it makes sure the bootstrap administrator is stored.
func (h *Hub) background() {
	defer close(h.bgDone)
	tenant, user, err := h.authn.BootstrapRecords()
	if err != nil {
		h.log.Error("bootstrap administrator", "error", err)
		return
	}
	if user == nil {
		return
	}
	events, cancel := h.node.WatchLeadership()
	defer cancel()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.IsLocal {
				h.ensureBootstrap(tenant, user)
			}
		case <-h.stopped:
			return
		}
	}
}

// ensureBootstrap stores the system tenant and bootstrap administrator
// unless they exist, retrying while this replica leads. An administrator
// changed later through the API is left alone, even one created between
// the check and the write (the writes expect no object).
func (h *Hub) ensureBootstrap(tenant *structs.Tenant, user *structs.User) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-h.stopped:
			cancel()
		case <-ctx.Done():
		}
	}()
	for h.node.IsLeader() && ctx.Err() == nil {
		err := h.storeBootstrap(ctx, tenant, user)
		if err == nil {
			return
		}
		h.log.Warn("storing bootstrap administrator", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (h *Hub) storeBootstrap(ctx context.Context, tenant *structs.Tenant, user *structs.User) error {
	if err := h.ConsistentRead(ctx); err != nil {
		return err
	}
	txn := h.store.Read()
	if _, err := txn.Tenant(tenant.Name); errors.Is(err, structs.ErrNotFound) {
		if _, err := h.Write(ctx, &fsm.TenantUpsert{Tenant: *tenant, CAS: structs.CAS{ExpectAbsent: true}}); err != nil {
			return err
		}
	}
	if _, err := txn.User(user.Username); errors.Is(err, structs.ErrNotFound) {
		if _, err := h.Write(ctx, &fsm.UserUpsert{User: *user, CAS: structs.CAS{ExpectAbsent: true}}); err != nil {
			return err
		}
	}
	return nil
}
