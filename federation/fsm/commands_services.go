package fsm

import (
	"errors"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// ServiceAccountUpsert creates or replaces a service account.
type ServiceAccountUpsert struct {
	Account structs.ServiceAccount `json:"account"`
	structs.CAS
}

func (c *ServiceAccountUpsert) apply(w *state.WriteTxn) (any, error) {
	return upserted(w, w.UpsertServiceAccount(&c.Account, c.CAS))
}

// ServiceAccountDelete deletes a service account.
type ServiceAccountDelete struct {
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
	structs.CAS
}

func (c *ServiceAccountDelete) apply(w *state.WriteTxn) (any, error) {
	return deleted(w, c.CAS, state.TableServiceAccounts, "service account",
		func() error { return w.DeleteServiceAccount(c.Tenant, c.Name) }, c.Tenant, c.Name)
}

// TriggerUpsert creates or replaces a trigger.
type TriggerUpsert struct {
	Trigger structs.Trigger `json:"trigger"`
	structs.CAS
}

func (c *TriggerUpsert) apply(w *state.WriteTxn) (any, error) {
	return upserted(w, w.UpsertTrigger(&c.Trigger, c.CAS))
}

// TriggerDelete deletes a trigger.
type TriggerDelete struct {
	Name string `json:"name"`
	structs.CAS
}

func (c *TriggerDelete) apply(w *state.WriteTxn) (any, error) {
	return deleted(w, c.CAS, state.TableTriggers, "trigger", func() error { return w.DeleteTrigger(c.Name) }, c.Name)
}

// VaultExportUpsert creates or replaces the export of a vault to a namespace.
type VaultExportUpsert struct {
	Export structs.VaultExport `json:"export"`
	structs.CAS
}

func (c *VaultExportUpsert) apply(w *state.WriteTxn) (any, error) {
	return upserted(w, w.UpsertVaultExport(&c.Export, c.CAS))
}

// VaultExportDelete removes the export of a vault to a namespace.
type VaultExportDelete struct {
	Tenant    string `json:"tenant"`
	Vault     string `json:"vault"`
	Namespace string `json:"namespace"`
}

func (c *VaultExportDelete) apply(w *state.WriteTxn) (any, error) {
	return nil, w.DeleteVaultExport(c.Tenant, c.Vault, c.Namespace)
}

// WebhookSettingsUpsert replaces the webhook allow-list and signing key.
type WebhookSettingsUpsert struct {
	Settings structs.WebhookSettings `json:"settings"`
	structs.CAS
}

func (c *WebhookSettingsUpsert) apply(w *state.WriteTxn) (any, error) {
	return upserted(w, w.UpsertWebhookSettings(&c.Settings, c.CAS))
}

// SubscriptionUpsert creates or replaces a webhook subscription.
type SubscriptionUpsert struct {
	Subscription structs.WebhookSubscription `json:"subscription"`
	structs.CAS
}

func (c *SubscriptionUpsert) apply(w *state.WriteTxn) (any, error) {
	return upserted(w, w.UpsertSubscription(&c.Subscription, c.CAS))
}

// SubscriptionDelete deletes a webhook subscription.
type SubscriptionDelete struct {
	Name string `json:"name"`
	structs.CAS
}

func (c *SubscriptionDelete) apply(w *state.WriteTxn) (any, error) {
	return deleted(w, c.CAS, state.TableSubscriptions, "subscription", func() error { return w.DeleteSubscription(c.Name) }, c.Name)
}

// DeliveryOutcomes records the leader's webhook attempts. Outcomes of
// deliveries that no longer exist (an earlier leader finished them, an
// administrator dropped them) are skipped.
type DeliveryOutcomes struct {
	Outcomes []structs.DeliveryOutcome `json:"outcomes"`
}

func (c *DeliveryOutcomes) apply(w *state.WriteTxn) (any, error) {
	for i := range c.Outcomes {
		if err := w.RecordDelivery(&c.Outcomes[i]); err != nil && !errors.Is(err, structs.ErrNotFound) {
			return nil, err
		}
	}
	return nil, nil
}

// DeliveryRetry puts a dead delivery back in the queue.
type DeliveryRetry struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
}

func (c *DeliveryRetry) apply(w *state.WriteTxn) (any, error) {
	return nil, w.RetryDelivery(c.ID, c.Time)
}

// DeliveryDrop deletes a delivery (a dead letter an administrator gave up on).
type DeliveryDrop struct {
	ID string `json:"id"`
}

func (c *DeliveryDrop) apply(w *state.WriteTxn) (any, error) { return nil, w.DropDelivery(c.ID) }

// WebhookKeyRotate replaces the webhook signing key, keeping the old one
// for a grace period (structs.WebhookKeyRotation). Gated (see known.go).
// Result: *structs.WebhookSettings.
type WebhookKeyRotate structs.WebhookKeyRotation

func (c *WebhookKeyRotate) apply(w *state.WriteTxn) (any, error) {
	return w.RotateWebhookKey((*structs.WebhookKeyRotation)(c))
}
