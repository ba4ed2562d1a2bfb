package structs

import (
	"slices"
	"strings"
	"time"
)

// Webhook signature header and its parts: "t=<unix seconds>,v1=<hex of
// HMAC-SHA256(secret, t + "." + body)>" (see docs/security.md).
const SignatureHeader = "X-Flotilla-Signature"

// WebhookSettingsName is the key of the one WebhookSettings row.
const WebhookSettingsName = "webhooks"

// WebhookSettings are the administrators' webhook rules: the allow-list
// callbacks must match, and the hub's signing key (never shown; the
// secret of an owner's callbacks is derived from it, see
// docs/security.md).
type WebhookSettings struct {
	RaftIndex
	Name string `json:"name"`
	// AllowList entries: a CIDR ("10.1.0.0/16", "127.0.0.1/32"), a host
	// name ("hooks.example.com") or a wildcard domain ("*.example.com").
	AllowList  []string `json:"allow_list"`
	SigningKey string   `json:"signing_key,omitempty"`
	// PreviousSigningKey, after a rotation (raft command
	// WebhookKeyRotate), signs owners' callbacks beside SigningKey until
	// PreviousUntil, so receivers can switch to the new secret.
	PreviousSigningKey string     `json:"previous_signing_key,omitempty"`
	PreviousUntil      *time.Time `json:"previous_until,omitempty"`
}

// PreviousKey is the rotated-out signing key while its grace period runs
// at now, else "".
func (s *WebhookSettings) PreviousKey(now time.Time) string {
	if s.PreviousSigningKey == "" || s.PreviousUntil == nil || !now.Before(*s.PreviousUntil) {
		return ""
	}
	return s.PreviousSigningKey
}

// MaxWebhookKeyGrace bounds a signing key rotation's grace period.
const MaxWebhookKeyGrace = 30 * 24 * time.Hour

// WebhookKeyRotation replaces the hub's webhook signing key (raft command
// WebhookKeyRotate): NewKey (64 hex digits, made by the replica that took
// the call) becomes the signing key; the old one keeps signing beside it
// for Grace (0: not at all).
type WebhookKeyRotation struct {
	NewKey string        `json:"new_key"`
	Grace  time.Duration `json:"grace"`
	Time   time.Time     `json:"time"`
}

// Validate checks the fields a writer must supply.
func (c *WebhookKeyRotation) Validate() error {
	switch {
	case c.Time.IsZero():
		return invalidf("webhook key rotation: no time")
	case len(c.NewKey) != 64 || strings.Trim(c.NewKey, "0123456789abcdef") != "":
		return invalidf("webhook key rotation: the new key must be 64 lowercase hex digits")
	case c.Grace < 0 || c.Grace > MaxWebhookKeyGrace:
		return invalidf("webhook key rotation: grace %s, want 0 to %s", c.Grace, MaxWebhookKeyGrace)
	}
	return nil
}

// WebhookKeyRotateRequest is the body of POST /v1/webhooks/rotate-key.
type WebhookKeyRotateRequest struct {
	// Grace is how long callbacks carry the old key's signature too
	// ("24h" when empty; "0s": none).
	Grace string `json:"grace,omitempty"`
}

// WebhookKeyRotated answers a rotation: never a key.
type WebhookKeyRotated struct {
	Rotated       time.Time  `json:"rotated"`
	PreviousUntil *time.Time `json:"previous_until,omitempty"`
}

// Copy returns a deep copy of s.
func (s *WebhookSettings) Copy() *WebhookSettings {
	c := *s
	c.AllowList = slices.Clone(s.AllowList)
	return &c
}

// Validate checks the settings.
func (s *WebhookSettings) Validate() error {
	if s.Name != WebhookSettingsName {
		return invalidf("webhook settings: name %q", s.Name)
	}
	if len(s.AllowList) > 1000 {
		return invalidf("webhook allow-list: more than 1000 entries")
	}
	for _, e := range s.AllowList {
		if err := validName("webhook allow-list entry", e); err != nil {
			return err
		}
	}
	return nil
}

// WebhookSubscription calls URL on the state changes of the jobs of a
// tenant, narrowed to a team and/or an app. Secret signs its calls; it is
// shown once, when made.
type WebhookSubscription struct {
	RaftIndex
	Name   string     `json:"name"`
	Tenant string     `json:"tenant"`
	Team   string     `json:"team,omitempty"`
	App    string     `json:"app,omitempty"`
	States []JobState `json:"states,omitempty"` // none: every state
	URL    string     `json:"url"`
	Secret string     `json:"secret,omitempty"`
}

// Copy returns a deep copy of s.
func (s *WebhookSubscription) Copy() *WebhookSubscription {
	c := *s
	c.States = slices.Clone(s.States)
	return &c
}

// Validate checks the subscription's own fields.
func (s *WebhookSubscription) Validate() error {
	for _, f := range [...]struct{ what, v string }{{"subscription", s.Name}, {"subscription tenant", s.Tenant}, {"subscription url", s.URL}} {
		if err := validName(f.what, f.v); err != nil {
			return err
		}
	}
	for _, st := range s.States {
		if !st.Valid() {
			return invalidf("subscription %q: state %q", s.Name, st)
		}
	}
	if len(s.Secret) < 16 {
		return invalidf("subscription %q: secret shorter than 16 bytes", s.Name)
	}
	return nil
}

// Matches reports whether an event is for the subscription.
func (s *WebhookSubscription) Matches(e *JobEvent) bool {
	return e.Tenant == s.Tenant && (s.Team == "" || s.Team == e.Team) && (s.App == "" || s.App == e.App) &&
		(len(s.States) == 0 || slices.Contains(s.States, e.State))
}

// Delivery states.
const (
	DeliveryPending = "pending"
	DeliveryDead    = "dead"
)

// WebhookDelivery is one call to make: the event, where to send it and how
// it went. Rows are made by the FSM as events happen; the leader sends them
// and records each outcome (at-least-once, see docs/services.md).
type WebhookDelivery struct {
	RaftIndex
	ID           string    `json:"id"`
	Seq          uint64    `json:"seq"`
	Tenant       string    `json:"tenant"`
	Subscription string    `json:"subscription,omitempty"` // "": the job's callback_url
	Owner        string    `json:"owner,omitempty"`        // the job's owner, whose secret signs a callback
	URL          string    `json:"url"`
	Event        JobEvent  `json:"event"`
	State        string    `json:"state"`
	Attempts     int       `json:"attempts,omitempty"`
	NextAttempt  time.Time `json:"next_attempt,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
}

// Copy returns a copy of d.
func (d *WebhookDelivery) Copy() *WebhookDelivery {
	c := *d
	return &c
}

// DeliveryOutcome is the leader's record of one attempt.
type DeliveryOutcome struct {
	ID          string    `json:"id"`
	Delivered   bool      `json:"delivered,omitempty"`
	Dead        bool      `json:"dead,omitempty"`
	Attempts    int       `json:"attempts,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	Error       string    `json:"error,omitempty"`
}

// WebhookSecret is the reply of GET /v1/webhooks/secret: the secret that
// signs the calls to the callback_url of the caller's jobs.
type WebhookSecret struct {
	Owner  string `json:"owner"`
	Secret string `json:"secret"`
}
