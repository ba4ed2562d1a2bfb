package hub

import (
	"context"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/federation/webhook"
)

// WebhookOptions tune webhook delivery; zero fields take the defaults.
type WebhookOptions struct {
	// Backoff is the wait after a first failed attempt, doubled per
	// attempt up to MaxBackoff (defaults 5 s and 10 min).
	Backoff, MaxBackoff time.Duration
	// MaxAttempts failed attempts make a delivery dead (default 8).
	MaxAttempts int
	// Timeout bounds one call (default 10 s).
	Timeout time.Duration
	// Poll is the longest the leader waits between looks for due
	// deliveries (default 1 s); a new delivery wakes it at once.
	Poll time.Duration
	// Batch bounds the deliveries sent at once (default 16).
	Batch int
}

func (o WebhookOptions) withDefaults() WebhookOptions {
	if o.Backoff <= 0 {
		o.Backoff = 5 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Minute
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 16
	}
	return o
}

// runWebhooks sends due webhook deliveries while this replica leads,
// until it stops. Deliveries live in raft: a new leader picks up what the
// old one had not recorded as done, so a call may be made twice around a
// leader change (at-least-once), never lost.
func (h *Hub) runWebhooks() {
	defer close(h.hookDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-h.stopped
		cancel()
	}()
	opts := h.cfg.Webhooks
	sender := webhook.NewSender(func() webhook.AllowList {
		a, _ := h.allowList()
		return a
	}, opts.Timeout, h.now)
	var seen uint64
	for ctx.Err() == nil {
		if h.node.IsLeader() {
			if err := h.deliverDue(ctx, sender); err != nil && ctx.Err() == nil {
				h.log.Warn("webhook delivery", "err", err)
			}
		}
		wctx, wcancel := context.WithTimeout(ctx, opts.Poll)
		seen, _ = h.store.WaitForIndex(wctx, state.TableDeliveries, seen)
		wcancel()
	}
}

// deliverDue sends the pending deliveries that are due and records the
// outcomes in one command.
func (h *Hub) deliverDue(ctx context.Context, sender *webhook.Sender) error {
	opts := h.cfg.Webhooks
	txn := h.store.Read()
	pending, err := txn.Deliveries(structs.DeliveryPending, 0)
	if err != nil {
		return err
	}
	now := h.now()
	var due []*structs.WebhookDelivery
	for _, d := range pending {
		if !d.NextAttempt.After(now) {
			due = append(due, d)
		}
		if len(due) == opts.Batch {
			break
		}
	}
	if len(due) == 0 {
		return nil
	}
	settings, _ := txn.WebhookSettings()
	outcomes := make([]structs.DeliveryOutcome, len(due))
	var wg sync.WaitGroup
	for i, d := range due {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outcomes[i] = h.attemptDelivery(ctx, sender, txn, settings, d)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	_, err = h.Write(ctx, &fsm.DeliveryOutcomes{Outcomes: outcomes})
	return err
}

// attemptDelivery makes one call and says what became of it.
func (h *Hub) attemptDelivery(ctx context.Context, sender *webhook.Sender, txn *state.ReadTxn, settings *structs.WebhookSettings,
	d *structs.WebhookDelivery) structs.DeliveryOutcome {
	opts := h.cfg.Webhooks
	var secret string
	var more [][]byte
	var err error
	switch {
	case d.Subscription != "":
		var sub *structs.WebhookSubscription
		if sub, err = txn.Subscription(d.Subscription); err == nil {
			secret = sub.Secret
		}
	case settings != nil:
		secret = webhook.OwnerSecret(settings.SigningKey, d.Owner)
		if prev := settings.PreviousKey(h.now()); prev != "" {
			more = append(more, []byte(webhook.OwnerSecret(prev, d.Owner)))
		}
	default:
		err = structs.Errorf(structs.ErrNotFound, "no webhook settings")
	}
	if err == nil {
		err = sender.Send(ctx, d, []byte(secret), more...)
	}
	if err == nil {
		return structs.DeliveryOutcome{ID: d.ID, Delivered: true}
	}
	n := d.Attempts + 1
	o := structs.DeliveryOutcome{ID: d.ID, Attempts: n, Error: err.Error()}
	if n >= opts.MaxAttempts {
		o.Dead = true
		h.log.Warn("webhook dead letter", "delivery", d.ID, "attempts", n, "err", err)
	} else {
		o.NextAttempt = h.now().Add(webhook.Backoff(n, opts.Backoff, opts.MaxBackoff)).UTC()
	}
	return o
}
