package state

import (
	"fmt"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// WebhookSettings returns the webhook settings, or ErrNotFound before an
// administrator set them.
func (r *ReadTxn) WebhookSettings() (*structs.WebhookSettings, error) {
	return getByID[*structs.WebhookSettings](r.txn, TableWebhookSettings, "webhook settings", structs.WebhookSettingsName)
}

// UpsertWebhookSettings replaces the webhook settings if the stored ones
// meet cas.
func (w *WriteTxn) UpsertWebhookSettings(s *structs.WebhookSettings, cas structs.CAS) error {
	if err := s.Validate(); err != nil {
		return err
	}
	return w.upsert(tWebhookSettings, s.Copy(), cas, "webhook settings", s.Name)
}

// Subscription returns the named webhook subscription or ErrNotFound.
func (r *ReadTxn) Subscription(name string) (*structs.WebhookSubscription, error) {
	return getByID[*structs.WebhookSubscription](r.txn, TableSubscriptions, "subscription", name)
}

// Subscriptions returns a tenant's subscriptions ("": every tenant's).
func (r *ReadTxn) Subscriptions(tenant string) ([]*structs.WebhookSubscription, error) {
	if tenant == "" {
		return listAll[*structs.WebhookSubscription](r.txn, TableSubscriptions, "id")
	}
	return listAll[*structs.WebhookSubscription](r.txn, TableSubscriptions, "tenant", tenant)
}

// UpsertSubscription creates or replaces a subscription of an existing
// tenant.
func (w *WriteTxn) UpsertSubscription(s *structs.WebhookSubscription, cas structs.CAS) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := w.mustExist(tTenants, "tenant", s.Tenant); err != nil {
		return err
	}
	return w.upsert(tSubscriptions, s.Copy(), cas, "subscription", s.Name)
}

// DeleteSubscription deletes a subscription; its pending deliveries stay.
func (w *WriteTxn) DeleteSubscription(name string) error {
	return w.remove(tSubscriptions, "subscription", name)
}

// Delivery returns one webhook delivery or ErrNotFound.
func (r *ReadTxn) Delivery(id string) (*structs.WebhookDelivery, error) {
	return getByID[*structs.WebhookDelivery](r.txn, TableDeliveries, "delivery", id)
}

// Deliveries returns the deliveries in state (pending or dead), oldest
// first, at most limit (0: all).
func (r *ReadTxn) Deliveries(state string, limit int) ([]*structs.WebhookDelivery, error) {
	it, err := r.txn.Get(TableDeliveries, "state", state)
	if err != nil {
		return nil, fmt.Errorf("state: deliveries: %w", err)
	}
	var out []*structs.WebhookDelivery
	for raw := it.Next(); raw != nil && (limit <= 0 || len(out) < limit); raw = it.Next() {
		out = append(out, raw.(*structs.WebhookDelivery).Copy())
	}
	return out, nil
}

// RecordDelivery applies the outcome of one attempt: a delivered call
// removes the delivery, a failed one counts the attempt and sets the next
// one, or makes it dead. An unknown delivery (done by an earlier leader,
// or dropped) is ErrNotFound.
func (w *WriteTxn) RecordDelivery(o *structs.DeliveryOutcome) error {
	raw, err := rawByID(w.txn, TableDeliveries, o.ID)
	if err != nil {
		return err
	}
	old, ok := raw.(*structs.WebhookDelivery)
	if !ok {
		return notFound("delivery", o.ID)
	}
	if o.Delivered {
		return w.remove(tDeliveries, "delivery", o.ID)
	}
	n := old.Copy()
	n.Attempts, n.NextAttempt, n.LastError = o.Attempts, o.NextAttempt, o.Error
	if o.Dead {
		n.State = structs.DeliveryDead
	}
	return w.insert(tDeliveries, n, old)
}

// RetryDelivery puts a dead delivery back in the queue, due at at.
func (w *WriteTxn) RetryDelivery(id string, at time.Time) error {
	raw, err := rawByID(w.txn, TableDeliveries, id)
	if err != nil {
		return err
	}
	old, ok := raw.(*structs.WebhookDelivery)
	if !ok {
		return notFound("delivery", id)
	}
	if old.State != structs.DeliveryDead {
		return structs.Errorf(structs.ErrConflict, "delivery %q is not dead", id)
	}
	n := old.Copy()
	n.State, n.Attempts, n.NextAttempt, n.LastError = structs.DeliveryPending, 0, at, ""
	return w.insert(tDeliveries, n, old)
}

// DropDelivery deletes a delivery.
func (w *WriteTxn) DropDelivery(id string) error { return w.remove(tDeliveries, "delivery", id) }

// RotateWebhookKey makes c.NewKey the webhook signing key, the old one
// kept as the previous key until c.Time + c.Grace (none with no grace).
// ErrNotFound before an administrator set the webhook settings;
// ErrConflict when the new key is the current one.
func (w *WriteTxn) RotateWebhookKey(c *structs.WebhookKeyRotation) (*structs.WebhookSettings, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	old, err := w.WebhookSettings()
	if err != nil {
		return nil, err
	}
	if old.SigningKey == c.NewKey {
		return nil, structs.Errorf(structs.ErrConflict, "webhook key rotation: the new key is the current one")
	}
	n := old.Copy()
	n.PreviousSigningKey, n.PreviousUntil = "", nil
	if c.Grace > 0 && old.SigningKey != "" {
		until := c.Time.Add(c.Grace).UTC()
		n.PreviousSigningKey, n.PreviousUntil = old.SigningKey, &until
	}
	n.SigningKey = c.NewKey
	if err := w.upsert(tWebhookSettings, n, structs.CAS{}, "webhook settings", n.Name); err != nil {
		return nil, err
	}
	return n, nil
}
