package hub

import (
	"context"
	"errors"
	"net"

	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/jobs"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/federation/webhook"
)

// checkCallback refuses a callback URL the administrators' webhook rules
// do not allow (webhook.AllowList.CheckURL); without an allow-list no
// callback is allowed.
func (h *Hub) checkCallback(ctx context.Context, url string) error {
	allow, err := h.allowList()
	if err != nil {
		return err
	}
	return allow.CheckURL(ctx, net.DefaultResolver, url)
}

// allowList is the stored webhook allow-list (empty when none is set).
func (h *Hub) allowList() (webhook.AllowList, error) {
	s, err := h.store.Read().WebhookSettings()
	if errors.Is(err, structs.ErrNotFound) {
		return webhook.AllowList{}, nil
	} else if err != nil {
		return webhook.AllowList{}, err
	}
	return webhook.ParseAllowList(s.AllowList)
}

// FireTrigger submits the job trigger name makes of payload, as the
// trigger's service account, which caller must be (or an administrator
// of the trigger's tenant, who fires it under the account's identity and
// limits). With Debounce, a fire while a job of the trigger has not ended
// is ErrConflict naming that job.
func (h *Hub) FireTrigger(ctx context.Context, caller *authz.Identity, name string, payload map[string]any) (*structs.Job, error) {
	txn := h.store.Read()
	t, err := txn.Trigger(name)
	if err != nil {
		return nil, err
	}
	if !caller.InTenant(t.Tenant) {
		return nil, structs.Errorf(structs.ErrNotFound, "trigger %q", name)
	}
	sa, err := txn.ServiceAccount(t.Tenant, t.ServiceAccount)
	if err != nil {
		return nil, err
	}
	mine := caller.Service != nil && caller.Service.Tenant == sa.Tenant && caller.Service.Name == sa.Name
	if !mine && !caller.AdminsTenant(t.Tenant) {
		return nil, structs.Errorf(structs.ErrForbidden, "trigger %q: only service account %s fires it", name, sa.Subject())
	}
	if sa.Disabled {
		return nil, structs.Errorf(structs.ErrForbidden, "service account %s is disabled", sa.Subject())
	}
	if t.Debounce {
		if n, err := txn.ActiveTriggerJob(sa.Subject(), t.Name); err != nil {
			return nil, err
		} else if n != 0 {
			return nil, structs.Errorf(structs.ErrConflict, "trigger %q: job %d is still in flight (debounce)", name, n)
		}
	}
	req, err := jobs.TriggerRequest(t, payload)
	if err != nil {
		return nil, err
	}
	as := &authz.Identity{Username: sa.Subject(), Tenant: sa.Tenant, Role: structs.RoleUser, Service: sa}
	if sa.Team != "" {
		as.Teams = []string{sa.Team}
	}
	return h.submit(ctx, as, req, t.Name, nil)
}

// CallbackSecret is the secret signing the callbacks of owner's jobs
// (webhook.OwnerSecret); ErrNotFound before an administrator set the
// webhook settings.
func (h *Hub) CallbackSecret(owner string) (string, error) {
	s, err := h.store.Read().WebhookSettings()
	if err != nil {
		return "", err
	}
	return webhook.OwnerSecret(s.SigningKey, owner), nil
}
