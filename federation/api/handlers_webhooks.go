package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/federation/webhook"
)

// Webhooks: global administrators set the allow-list; tenant
// administrators subscribe and handle their tenant's dead letters; every
// caller reads the secret of their own jobs' callbacks.

// WebhookAllowList is the body of GET and PUT /v1/webhooks/allowlist.
type WebhookAllowList struct {
	AllowList []string `json:"allow_list"`
}

func (s *Server) getAllowList(c *call) (any, error) {
	if err := c.id.CheckGlobalAdmin("webhook settings"); err != nil {
		return nil, err
	}
	set, err := s.reads.Store().Read().WebhookSettings()
	if errors.Is(err, structs.ErrNotFound) {
		return &WebhookAllowList{AllowList: []string{}}, nil
	} else if err != nil {
		return nil, err
	}
	return &WebhookAllowList{AllowList: set.AllowList}, nil
}

func (s *Server) putAllowList(c *call) (any, error) {
	if err := c.id.CheckGlobalAdmin("webhook settings"); err != nil {
		return nil, err
	}
	req, err := decodeValue[WebhookAllowList](c.body(), nil)
	if err != nil {
		return nil, err
	}
	if _, err := webhook.ParseAllowList(req.AllowList); err != nil {
		return nil, err
	}
	err = update(c, nil, "webhook settings", structs.WebhookSettingsName,
		(*state.ReadTxn).WebhookSettings,
		func(old *structs.WebhookSettings, cas structs.CAS) (fsm.Command, error) {
			n := structs.WebhookSettings{Name: structs.WebhookSettingsName, AllowList: req.AllowList}
			if old != nil {
				n.SigningKey = old.SigningKey
				n.PreviousSigningKey, n.PreviousUntil = old.PreviousSigningKey, old.PreviousUntil
			} else {
				n.SigningKey = randomHex(32)
			}
			return &fsm.WebhookSettingsUpsert{Settings: n, CAS: cas}, nil
		})
	if req.AllowList == nil {
		req.AllowList = []string{}
	}
	return req, err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// callbackSecret answers GET /v1/webhooks/secret: the secret of the
// caller's own jobs' callbacks (?owner= for a tenant administrator
// reading a service account's).
func (s *Server) callbackSecret(c *call) (any, error) {
	owner := c.id.Username
	if o := c.r.URL.Query().Get("owner"); o != "" && o != owner && c.id.IsGlobalAdmin() {
		owner = o
	} else if o != "" && o != owner {
		sa, err := s.reads.Store().Read().ServiceAccounts(c.id.Tenant)
		if err != nil {
			return nil, err
		}
		found := false
		for _, a := range sa {
			found = found || a.Subject() == o
		}
		if !found || !c.id.AdminsTenant(c.id.Tenant) {
			return nil, structs.Errorf(structs.ErrForbidden, "callback secret of %q: a service account of your tenant, for its administrators", o)
		}
		owner = o
	}
	secret, err := s.services.CallbackSecret(owner)
	if errors.Is(err, structs.ErrNotFound) {
		return nil, structs.Errorf(structs.ErrNotFound, "no webhook settings: an administrator sets the allow-list first")
	} else if err != nil {
		return nil, err
	}
	return &structs.WebhookSecret{Owner: owner, Secret: secret}, nil
}

func (s *Server) listSubscriptions(c *call) (any, error) {
	return readList(c, func(r *state.ReadTxn) ([]*structs.WebhookSubscription, error) { return r.Subscriptions("") },
		func(_ *state.ReadTxn, sub *structs.WebhookSubscription) (*structs.WebhookSubscription, bool) {
			sub.Secret = ""
			return sub, c.id.AdminsTenant(sub.Tenant)
		})
}

// putSubscription creates or replaces a subscription; a new one gets a
// secret, shown in this reply only.
func (s *Server) putSubscription(c *call) (any, error) {
	name := c.r.PathValue("name")
	sub, err := decodeValue[structs.WebhookSubscription](c.body(), nil)
	if err != nil {
		return nil, err
	}
	if sub.Name, err = pathName("subscription", sub.Name, name); err != nil {
		return nil, err
	}
	if sub.Tenant == "" {
		sub.Tenant = c.id.Tenant
	}
	if err := c.id.CheckAdminTenant(sub.Tenant); err != nil {
		return nil, err
	}
	allow, err := s.allowList()
	if err != nil {
		return nil, err
	}
	if err := allow.CheckURL(c.r.Context(), netResolver, sub.URL); err != nil {
		return nil, err
	}
	shown := false
	err = update(c, nil, "subscription", name,
		func(r *state.ReadTxn) (*structs.WebhookSubscription, error) { return r.Subscription(name) },
		func(old *structs.WebhookSubscription, cas structs.CAS) (fsm.Command, error) {
			n := *sub
			n.RaftIndex = structs.RaftIndex{}
			switch {
			case old != nil && old.Tenant != n.Tenant:
				return nil, structs.Errorf(structs.ErrConflict, "subscription %q belongs to another tenant", name)
			case old != nil:
				n.Secret, shown = old.Secret, false
			default:
				n.Secret, shown = "whsec_"+randomHex(24), true
			}
			if err := n.Validate(); err != nil {
				return nil, err
			}
			sub.Secret = n.Secret
			return &fsm.SubscriptionUpsert{Subscription: n, CAS: cas}, nil
		})
	if !shown {
		sub.Secret = ""
	}
	return sub, err
}

func (s *Server) deleteSubscription(c *call) (any, error) {
	name := c.r.PathValue("name")
	sub, err := fresh(c, func(r *state.ReadTxn) (*structs.WebhookSubscription, error) { return r.Subscription(name) })
	if err != nil {
		return nil, err
	}
	if err := c.id.CheckAdminTenant(sub.Tenant); err != nil {
		return nil, err
	}
	return c.deleteObject(name, func(cas structs.CAS) fsm.Command { return &fsm.SubscriptionDelete{Name: name, CAS: cas} })
}

// listDeliveries lists deliveries (?state=dead, the dead letters, by
// default; pending) of the tenants the caller administers.
func (s *Server) listDeliveries(c *call) (any, error) {
	st := c.r.URL.Query().Get("state")
	if st == "" {
		st = structs.DeliveryDead
	}
	if st != structs.DeliveryDead && st != structs.DeliveryPending {
		return nil, invalid("state: want dead or pending")
	}
	if !c.id.AdminsTenant(c.id.Tenant) {
		return nil, structs.Errorf(structs.ErrForbidden, "webhook deliveries: administrators only")
	}
	return readList(c, func(r *state.ReadTxn) ([]*structs.WebhookDelivery, error) { return r.Deliveries(st, MaxPageLimit) },
		func(_ *state.ReadTxn, d *structs.WebhookDelivery) (*structs.WebhookDelivery, bool) {
			return d, c.id.AdminsTenant(d.Tenant)
		})
}

// delivery reads a delivery the caller administers.
func (c *call) delivery() (*structs.WebhookDelivery, error) {
	id := c.r.PathValue("id")
	d, err := fresh(c, func(r *state.ReadTxn) (*structs.WebhookDelivery, error) { return r.Delivery(id) })
	if err != nil {
		return nil, err
	}
	if !c.id.AdminsTenant(d.Tenant) {
		return nil, structs.Errorf(structs.ErrNotFound, "delivery %q", id)
	}
	return d, nil
}

func (s *Server) retryDelivery(c *call) (any, error) {
	d, err := c.delivery()
	if err != nil {
		return nil, err
	}
	at := s.now().UTC()
	if err := c.write(&fsm.DeliveryRetry{ID: d.ID, Time: at}); err != nil {
		return nil, err
	}
	after, err := s.reads.Store().Read().Delivery(d.ID)
	if errors.Is(err, structs.ErrNotFound) {
		// The leader delivered it between the write and this read: a
		// delivered record is removed, so answer with what the retry made
		// of it rather than a 404 for a retry that worked.
		requeued := d.Copy()
		requeued.State, requeued.Attempts, requeued.NextAttempt, requeued.LastError = structs.DeliveryPending, 0, at, ""
		return requeued, nil
	}
	return after, err
}

func (s *Server) dropDelivery(c *call) (any, error) {
	d, err := c.delivery()
	if err != nil {
		return nil, err
	}
	if err := c.write(&fsm.DeliveryDrop{ID: d.ID}); err != nil {
		return nil, err
	}
	return &structs.Deleted{Deleted: d.ID}, nil
}

// allowList is the stored allow-list, parsed.
func (s *Server) allowList() (webhook.AllowList, error) {
	set, err := s.reads.Store().Read().WebhookSettings()
	if errors.Is(err, structs.ErrNotFound) {
		return webhook.AllowList{}, nil
	} else if err != nil {
		return webhook.AllowList{}, err
	}
	return webhook.ParseAllowList(set.AllowList)
}

// netResolver resolves subscription hosts.
var netResolver = net.DefaultResolver
