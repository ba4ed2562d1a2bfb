package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Call is the body of a webhook call.
type Call struct {
	Delivery     string           `json:"delivery"`
	Subscription string           `json:"subscription,omitempty"`
	Event        structs.JobEvent `json:"event"`
}

// Sender makes webhook calls through a client that dials only addresses
// the allow-list permits, follows no redirects and uses no proxy.
type Sender struct {
	client *http.Client
	now    func() time.Time
}

// NewSender returns a Sender checking addresses against allow (read at
// every dial, so a changed list applies at once), with a per-call timeout.
func NewSender(allow func() AllowList, timeout time.Duration, now func() time.Time) *Sender {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		return allow().Dialer().DialContext(ctx, network, addr)
	}
	tr := &http.Transport{Proxy: nil, DialContext: dial, MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second,
		TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout}
	return &Sender{now: now, client: &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Send makes one call of d signed with secret (and with each of more, a
// rotated key's grace period); a reply other than 2xx is an error.
func (s *Sender) Send(ctx context.Context, d *structs.WebhookDelivery, secret []byte, more ...[]byte) error {
	body, err := json.Marshal(Call{Delivery: d.ID, Subscription: d.Subscription, Event: d.Event})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "flotilla-webhook/1")
	req.Header.Set(structs.SignatureHeader, Sign(secret, s.now(), body, more...))
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}
