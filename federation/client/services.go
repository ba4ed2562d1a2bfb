package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/federation/webhook"
)

func saPath(tenant, name string) string {
	return "/v1/tenants/" + esc(tenant) + "/serviceaccounts/" + esc(name)
}

// ListServiceAccounts lists a tenant's service accounts.
func (c *Client) ListServiceAccounts(ctx context.Context, tenant string) ([]*structs.ServiceAccount, error) {
	return list[*structs.ServiceAccount](ctx, c, "/v1/tenants/"+esc(tenant)+"/serviceaccounts", nil)
}

// GetServiceAccount reads a service account.
func (c *Client) GetServiceAccount(ctx context.Context, tenant, name string) (*structs.ServiceAccount, error) {
	return call[structs.ServiceAccount](ctx, c, http.MethodGet, saPath(tenant, name), nil, nil)
}

// PutServiceAccount creates or replaces a service account (its keys stay).
func (c *Client) PutServiceAccount(ctx context.Context, tenant, name string, spec *structs.ServiceAccountSpec, opts ...WriteOption) (*structs.ServiceAccount, error) {
	return call[structs.ServiceAccount](ctx, c, http.MethodPut, saPath(tenant, name), writeQuery(opts), spec)
}

// DeleteServiceAccount deletes a service account.
func (c *Client) DeleteServiceAccount(ctx context.Context, tenant, name string, opts ...WriteOption) error {
	return c.del(ctx, saPath(tenant, name), opts...)
}

// CreateServiceKey makes a key for a service account (shown once); its
// other keys stay valid.
func (c *Client) CreateServiceKey(ctx context.Context, tenant, name, keyName string) (*structs.APIKeyCreated, error) {
	return call[structs.APIKeyCreated](ctx, c, http.MethodPost, saPath(tenant, name)+"/apikeys", nil, structs.APIKeyRequest{Name: keyName})
}

// RevokeServiceKey revokes one key of a service account.
func (c *Client) RevokeServiceKey(ctx context.Context, tenant, name, id string) error {
	return c.del(ctx, saPath(tenant, name)+"/apikeys/"+esc(id))
}

// Events long-polls GET /v1/events: the events after since the caller may
// see, waiting up to wait for one.
func (c *Client) Events(ctx context.Context, since uint64, wait time.Duration) (*structs.EventPage, error) {
	q := url.Values{"since": {strconv.FormatUint(since, 10)}, "wait": {wait.String()}}
	return call[structs.EventPage](ctx, c, http.MethodGet, "/v1/events", q, nil)
}

// StreamEvents follows GET /v1/events as server-sent events from the
// replica at base ("": the client's first URL), calling fn with each page
// (whole raft indexes; page.Index is where to resume) until ctx ends, the
// stream breaks or fn fails. It returns the index to resume after.
func (c *Client) StreamEvents(ctx context.Context, base string, since uint64, fn func(*structs.EventPage) error) (uint64, error) {
	if base == "" {
		base = c.urls[0]
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/events?since="+strconv.FormatUint(since, 10), nil)
	if err != nil {
		return since, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.auth != nil {
		c.auth(req)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return since, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return since, newAPIError(resp.StatusCode, data)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "data: "):
			data.WriteString(strings.TrimPrefix(line, "data: "))
		case line == "" && data.Len() > 0:
			var page structs.EventPage
			if err := json.Unmarshal([]byte(data.String()), &page); err != nil {
				return since, fmt.Errorf("client: event stream: %w", err)
			}
			data.Reset()
			if err := fn(&page); err != nil {
				return since, err
			}
			since = page.Index
		}
	}
	if err := sc.Err(); err != nil {
		return since, err
	}
	return since, io.ErrUnexpectedEOF
}

// VerifyWebhook checks a webhook call the hub made (see webhook.Verify):
// the X-Flotilla-Signature header against the raw body with secret, the
// timestamp within tolerance of now (0: webhook.DefaultTolerance).
func VerifyWebhook(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	return webhook.Verify(secret, header, body, now, tolerance)
}

// SetWebhookAllowList replaces the webhook allow-list (global administrators).
func (c *Client) SetWebhookAllowList(ctx context.Context, entries []string) error {
	_, err := c.do(ctx, request{method: http.MethodPut, path: "/v1/webhooks/allowlist", body: map[string][]string{"allow_list": entries}})
	return err
}

// WebhookAllowList reads the webhook allow-list.
func (c *Client) WebhookAllowList(ctx context.Context) ([]string, error) {
	var out struct {
		AllowList []string `json:"allow_list"`
	}
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/webhooks/allowlist", out: &out})
	return out.AllowList, err
}

// CallbackSecret reads the secret that signs the callbacks of the caller's
// jobs (owner "": the caller's own; a tenant administrator may name a
// service account's subject).
func (c *Client) CallbackSecret(ctx context.Context, owner string) (*structs.WebhookSecret, error) {
	var q url.Values
	if owner != "" {
		q = url.Values{"owner": {owner}}
	}
	return call[structs.WebhookSecret](ctx, c, http.MethodGet, "/v1/webhooks/secret", q, nil)
}

// PutSubscription creates or replaces a subscription; a new one's secret
// is in the reply, that once.
func (c *Client) PutSubscription(ctx context.Context, s *structs.WebhookSubscription) (*structs.WebhookSubscription, error) {
	return call[structs.WebhookSubscription](ctx, c, http.MethodPut, "/v1/webhooks/subscriptions/"+esc(s.Name), nil, s)
}

// ListSubscriptions lists the subscriptions the caller administers.
func (c *Client) ListSubscriptions(ctx context.Context) ([]*structs.WebhookSubscription, error) {
	return list[*structs.WebhookSubscription](ctx, c, "/v1/webhooks/subscriptions", nil)
}

// DeleteSubscription deletes a subscription.
func (c *Client) DeleteSubscription(ctx context.Context, name string) error {
	return c.del(ctx, "/v1/webhooks/subscriptions/"+esc(name))
}

// ListDeliveries lists webhook deliveries in state (dead or pending).
func (c *Client) ListDeliveries(ctx context.Context, state string) ([]*structs.WebhookDelivery, error) {
	return list[*structs.WebhookDelivery](ctx, c, "/v1/webhooks/deliveries", url.Values{"state": {state}})
}

// RetryDelivery puts a dead letter back in the queue.
func (c *Client) RetryDelivery(ctx context.Context, id string) (*structs.WebhookDelivery, error) {
	return call[structs.WebhookDelivery](ctx, c, http.MethodPost, "/v1/webhooks/deliveries/"+esc(id)+"/retry", nil, nil)
}

// DropDelivery deletes a dead letter.
func (c *Client) DropDelivery(ctx context.Context, id string) error {
	return c.del(ctx, "/v1/webhooks/deliveries/"+esc(id))
}

// PutTrigger creates or replaces a trigger.
func (c *Client) PutTrigger(ctx context.Context, t *structs.Trigger) (*structs.Trigger, error) {
	return call[structs.Trigger](ctx, c, http.MethodPut, "/v1/triggers/"+esc(t.Name), nil, t)
}

// GetTrigger reads a trigger.
func (c *Client) GetTrigger(ctx context.Context, name string) (*structs.Trigger, error) {
	return call[structs.Trigger](ctx, c, http.MethodGet, "/v1/triggers/"+esc(name), nil, nil)
}

// ListTriggers lists the triggers of the caller's tenant.
func (c *Client) ListTriggers(ctx context.Context) ([]*structs.Trigger, error) {
	return list[*structs.Trigger](ctx, c, "/v1/triggers", nil)
}

// DeleteTrigger deletes a trigger.
func (c *Client) DeleteTrigger(ctx context.Context, name string) error {
	return c.del(ctx, "/v1/triggers/"+esc(name))
}

// FireTrigger fires a trigger with a JSON payload.
func (c *Client) FireTrigger(ctx context.Context, name string, payload map[string]any) (*structs.TriggerFired, error) {
	if payload == nil {
		payload = map[string]any{}
	}
	return call[structs.TriggerFired](ctx, c, http.MethodPost, "/v1/triggers/"+esc(name)+"/fire", nil, payload)
}

func exportPath(tenant, vault string) string {
	return "/v1/tenants/" + esc(tenant) + "/vaults/" + esc(vault) + "/exports"
}

// ExportVault exports a vault to a namespace.
func (c *Client) ExportVault(ctx context.Context, e *structs.VaultExport) (*structs.VaultExport, error) {
	return call[structs.VaultExport](ctx, c, http.MethodPut, exportPath(e.Tenant, e.Vault)+"/"+esc(e.Namespace), nil, e)
}

// UnexportVault removes a vault's export to a namespace.
func (c *Client) UnexportVault(ctx context.Context, tenant, vault, namespace string) error {
	return c.del(ctx, exportPath(tenant, vault)+"/"+esc(namespace))
}

// ListVaultExports lists a vault's exports.
func (c *Client) ListVaultExports(ctx context.Context, tenant, vault string) ([]*structs.VaultExport, error) {
	return list[*structs.VaultExport](ctx, c, exportPath(tenant, vault), nil)
}

// ClusterVaultExports lists the exports a cluster's agent carries out.
func (c *Client) ClusterVaultExports(ctx context.Context, cluster string) ([]*structs.VaultExportAssignment, error) {
	return list[*structs.VaultExportAssignment](ctx, c, "/v1/clusters/"+esc(cluster)+"/vaultexports", nil)
}

// RotateWebhookKey replaces the hub's webhook signing key (system
// administrators); grace ("" for the hub's default, "0s" for none) is how
// long callbacks carry the old key's signature too.
func (c *Client) RotateWebhookKey(ctx context.Context, grace string) (*structs.WebhookKeyRotated, error) {
	return call[structs.WebhookKeyRotated](ctx, c, http.MethodPost, "/v1/webhooks/rotate-key", nil, &structs.WebhookKeyRotateRequest{Grace: grace})
}
