// Package client is the Go client of the Flotilla hub API, used by the
// cluster agent, the CLI, tests and benchmarks.
//
// A Client holds a list of hub replica URLs. Every call goes to one
// replica; when that fails in a way that is safe to retry, the call moves
// on to the next URL with a bounded backoff until its context or the
// retry budget ends. Safe to retry (retry.go): a request that was never
// sent (connection refused); 429 after its Retry-After, and 503 or 421
// with Retry-After (the hub did nothing); and, for calls carrying an
// idempotency key only, no reply after the request went out and a
// proxy's 502, 503 or 504. GET, PUT and DELETE are keyed by themselves;
// of the POSTs, job submissions (an ID that SubmitJob stamps before the
// first attempt: resubmitting it returns the job already stored), cancels,
// terminations and agents' status pushes. Any other reply is final. HTTP
// redirects are followed, and so are leader hints: a reply names the
// leader's URL and, if it is one of the client's URLs, later calls go
// straight to it (see WithoutLeaderPreference).
//
// Errors from the hub are *APIError values; errors.Is matches them against
// the structs error kinds (structs.ErrNotFound, ErrForbidden, ...).
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Defaults of a Client.
const (
	DefaultRetryTimeout = 30 * time.Second
	defaultBackoffMin   = 10 * time.Millisecond
	defaultBackoffMax   = 500 * time.Millisecond
	// IndexHeader is the response header carrying a raft index.
	IndexHeader = "X-Flotilla-Index"
	// LeaderHeader is the response header naming the leader's URL.
	LeaderHeader = "X-Flotilla-Leader"
)

// Client calls the hub API. It is safe for concurrent use.
type Client struct {
	urls     []string
	jobsURLs []string // each URL + jobsPath, the submissions' URL
	auth     func(*http.Request)
	hc       *http.Client
	// hcWatch serves the watches (a request with wait=): the default
	// transport without its reply header timeout, which a watch's wait
	// would outlast (each attempt has its own deadline instead). nil
	// with WithHTTPClient: the caller's client serves them too.
	hcWatch      *http.Client
	retryTimeout time.Duration
	backoffMin   time.Duration
	backoffMax   time.Duration
	spread       bool // ignore leader hints
	tls          *tls.Config
	now          func() time.Time // the retry budget's clock
	next         atomic.Uint32    // index of the URL to try first
	noLean       bool             // WithoutLeanHTTP
	lean         *leanPool        // nil: every call through net/http
	leanTo       []*leanTarget    // per URL: nil where lean may not go
	leanAuth     string           // the Authorization header's value
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (transport, TLS, timeouts).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithTLS sets the TLS configuration of the default transport: the CAs it
// trusts (e.g. hubtls.ClientFromCAFile for a hub with its own CA), a
// client certificate. Ignored with WithHTTPClient.
func WithTLS(cfg *tls.Config) Option { return func(c *Client) { c.tls = cfg } }

// WithRetryTimeout bounds how long one call keeps retrying other replicas:
// no attempt starts after it, and none waits past it for a backoff or a
// Retry-After. An attempt under way ends with the call's context (which may
// end the call sooner) or, on the default transport, when the hub has not
// begun its reply within the same time.
func WithRetryTimeout(d time.Duration) Option { return func(c *Client) { c.retryTimeout = d } }

// WithBackoff sets the bounds of the backoff between retries.
func WithBackoff(lo, hi time.Duration) Option {
	return func(c *Client) { c.backoffMin, c.backoffMax = lo, hi }
}

// WithoutLeaderPreference keeps the client on the replica it started with
// (the first URL) instead of moving to the leader a reply names; followers
// then forward writes to the leader.
func WithoutLeaderPreference() Option { return func(c *Client) { c.spread = true } }

// WithLeaderPreference follows leader hints (the default).
func WithLeaderPreference() Option { return func(c *Client) { c.spread = false } }

// WithBasicAuth authenticates with a username and password instead of an
// API key (each request then costs the hub a bcrypt comparison).
func WithBasicAuth(username, password string) Option {
	return func(c *Client) { c.auth = func(r *http.Request) { r.SetBasicAuth(username, password) } }
}

// New returns a client of the hub replicas at urls (e.g.
// "https://hub-0.example:8443"), authenticating with apiKey (a user's API
// key or a cluster agent's key; "" for none).
func New(urls []string, apiKey string, opts ...Option) (*Client, error) {
	if len(urls) == 0 {
		return nil, errors.New("client: no hub URLs")
	}
	c := &Client{retryTimeout: DefaultRetryTimeout, backoffMin: defaultBackoffMin, backoffMax: defaultBackoffMax,
		now: time.Now}
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, fmt.Errorf("client: bad hub URL %q", u)
		}
		c.urls = append(c.urls, strings.TrimRight(u, "/"))
		c.jobsURLs = append(c.jobsURLs, c.urls[len(c.urls)-1]+jobsPath)
	}
	if apiKey != "" {
		bearer := []string{"Bearer " + apiKey} // one value for every request
		c.auth = func(r *http.Request) { r.Header["Authorization"] = bearer }
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil && !c.noLean && !leanOff() {
		c.initLean()
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: &http.Transport{
			Proxy:             http.ProxyFromEnvironment,
			DialContext:       (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:   c.tls,
			ForceAttemptHTTP2: true,
			// The hub never compresses its replies: asking for gzip only
			// cost every request a header, on both ends.
			DisableCompression: true,
			// An attempt has no timer of its own (the retry budget is
			// checked between attempts): a hub that takes the request and
			// never answers ends the attempt here.
			ResponseHeaderTimeout: c.retryTimeout,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   128,
			IdleConnTimeout:       90 * time.Second,
		}}
		tw := c.hc.Transport.(*http.Transport).Clone()
		tw.ResponseHeaderTimeout = 0
		c.hcWatch = &http.Client{Transport: tw}
	}
	return c, nil
}

// follow moves the client to the leader a reply names, if it is one of
// the client's URLs: writes then need no forwarding.
func (c *Client) follow(h http.Header) {
	if c.spread || h == nil {
		return
	}
	leader := strings.TrimRight(h.Get(LeaderHeader), "/")
	if leader == "" {
		return
	}
	for i, u := range c.urls {
		if u == leader {
			c.next.Store(uint32(i))
			return
		}
	}
}

// URLs returns the hub URLs the client uses.
func (c *Client) URLs() []string { return append([]string(nil), c.urls...) }

// CloseIdleConnections closes the HTTP client's idle connections.
func (c *Client) CloseIdleConnections() {
	c.hc.CloseIdleConnections()
	if c.hcWatch != nil {
		c.hcWatch.CloseIdleConnections()
	}
	if c.lean != nil {
		c.lean.closeIdle()
	}
}

// request describes one API call.
type request struct {
	method string
	path   string
	query  url.Values
	body   any     // marshalled to JSON when non-nil
	out    any     // JSON reply decoded into it when non-nil
	raw    *[]byte // the reply's body as is, when non-nil (instead of out)
	// keyed: the request carries an idempotency key, so it may be sent
	// again after a failure that leaves its outcome unknown (see
	// retryable). GET, PUT and DELETE always are (keyedMethod).
	keyed bool
	// requestID is sent as X-Request-Id (set by do).
	requestID string
	// deadline, when not zero, is the end of the retry budget (a budget
	// shared by several calls); else the budget is the client's.
	deadline time.Time
	// wait is a watch's wait (its query's wait=, set by do): the hub
	// holds the reply up to that long, so an attempt waits that much
	// longer for it, and the budget is that much longer.
	wait time.Duration
}

// do performs r, retrying other replicas on transient failures, and
// returns the reply's headers.
func (c *Client) do(ctx context.Context, r request) (http.Header, error) {
	var body []byte
	if r.body != nil {
		var err error
		if body, err = json.Marshal(r.body); err != nil {
			return nil, fmt.Errorf("client: encode %s %s: %w", r.method, r.path, err)
		}
	}
	r.keyed = r.keyed || keyedMethod(r.method)
	// The retry budget is a deadline checked between attempts, not a
	// timer context per call: ctx alone (its cancellation, its deadline)
	// stops an attempt under way (and the default transport bounds a
	// reply's wait, see New).
	r.wait = queryWait(r.query)
	deadline := r.deadline
	if deadline.IsZero() {
		deadline = c.now().Add(c.retryTimeout + r.wait)
	}
	// One id per call, the same on every retry: the hub logs it with
	// whatever the call caused.
	r.requestID = rand.Text()
	backoff := c.backoffMin
	start := c.next.Load()
	var lastReply error // the last error the hub replied with
	for attempt := uint32(0); ; attempt++ {
		i := (start + attempt) % uint32(len(c.urls))
		h, retry, err := c.once(ctx, i, r, body)
		if !retry {
			if err == nil {
				c.next.Store(i)
				c.follow(h)
			} else if ctx.Err() != nil {
				return h, giveUp(r.method, r.path, lastReply, err)
			}
			return h, err
		}
		c.follow(h)
		if h == nil {
			// No reply from this replica: the next call starts at the
			// next one (a replica that takes requests and never answers
			// would cost every call its whole wait), unless a call that
			// got a reply moved the client meanwhile.
			c.next.CompareAndSwap(i, (i+1)%uint32(len(c.urls)))
		}
		var ae *APIError
		if errors.As(err, &ae) {
			lastReply = err
		}
		var wait time.Duration
		if wait = retryAfter(h, err); wait <= 0 && (attempt+1)%uint32(len(c.urls)) == 0 {
			// Tried every replica once: back off before the next round.
			wait = backoff
			backoff = min(2*backoff, c.backoffMax)
		}
		// Rate limited, wait as long as the replica asked, whichever
		// replica comes next (each limits on its own, but the caller is
		// asked to slow down); a wait past the budget ends the call now.
		left := deadline.Sub(c.now())
		if ctx.Err() != nil || left <= 0 || wait >= left {
			return nil, giveUp(r.method, r.path, lastReply, err)
		}
		if wait > 0 && !sleep(ctx, wait) {
			return nil, giveUp(r.method, r.path, lastReply, err)
		}
	}
}

// once performs r against the replica at base. retry reports a failure
// that retryable allows to try again, here or elsewhere.
// jsonValue is the value of the requests' Accept and Content-Type
// headers, shared by every request (net/http never changes a header's
// values).
var jsonValue = []string{"application/json"}

func (c *Client) once(ctx context.Context, i uint32, r request, body []byte) (h http.Header, retry bool, err error) {
	base := c.urls[i]
	u := c.jobsURLs[i] // a submission's URL, made once
	if r.path != jobsPath {
		u = base + r.path
	}
	var q string
	if len(r.query) > 0 {
		q = "?" + r.query.Encode()
		u += q
	}
	if r.keyed && r.wait == 0 && c.lean != nil && c.leanTo[i] != nil {
		if h, retry, err := c.onceLean(ctx, i, r, u, q, body); err != errLeanRedirect {
			return h, retry, err
		}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	// Whether the request went out decides a retry only for a call
	// without an idempotency key (retryable): a keyed call, every
	// submission among them, is retried either way and needs no trace.
	var sent *sentTrace
	rctx := ctx
	if !r.keyed {
		sent = new(sentTrace)
		sent.trace.WroteHeaderField, sent.trace.WroteRequest = sent.headerField, sent.request
		rctx = httptrace.WithClientTrace(ctx, &sent.trace)
	}
	hc := c.hc
	if r.wait > 0 && c.hcWatch != nil {
		// A watch: the hub answers within its wait; past that and the
		// client's header wait, the attempt ends.
		hc = c.hcWatch
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(rctx, r.wait+c.retryTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(rctx, r.method, u, rd)
	if err != nil {
		return nil, false, fmt.Errorf("client: %w", err)
	}
	// The Host header is the URL's (NewRequest copies it into req.Host):
	// left empty, the transport writes the same header, and http.Client
	// does not copy the URL per call to apply a Host of its own.
	req.Host = ""
	if body != nil {
		req.Header["Content-Type"] = jsonValue
	}
	req.Header["Accept"] = jsonValue
	if r.requestID != "" {
		req.Header.Set("X-Request-Id", r.requestID)
	}
	if c.auth != nil {
		c.auth(req)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if badCert(err) {
			// Another replica will not present a better certificate, nor
			// will this one later: a wrong CA or name is a configuration
			// error.
			return nil, false, fmt.Errorf("client: %s %s: the hub's certificate is not trusted: %w", r.method, base, err)
		}
		err = fmt.Errorf("client: %s %s: %w", r.method, base, err)
		if ctx.Err() != nil {
			return nil, false, err
		}
		if !retryable(r.keyed, attempt{wrote: sent.wasSent()}) {
			return nil, false, fmt.Errorf("%w (%w)", err, errNotRetried)
		}
		return nil, true, err
	}
	defer resp.Body.Close()
	rb := getReplyBuf(r.raw != nil)
	data, err := readReply(resp, rb.buf())
	defer rb.release(data)
	if err != nil {
		return c.cutReply(ctx, r, base, err)
	}
	return c.reply(r, resp.StatusCode, resp.Header, data)
}

// cutReply is the outcome of a reply cut after its headers: the hub may
// have acted.
func (c *Client) cutReply(ctx context.Context, r request, base string, err error) (http.Header, bool, error) {
	err = fmt.Errorf("client: %s %s: reading reply: %w", r.method, base, err)
	return nil, ctx.Err() == nil && retryable(r.keyed, attempt{wrote: true}), err
}

// reply is the outcome of a reply read whole.
func (c *Client) reply(r request, status int, h http.Header, data []byte) (http.Header, bool, error) {
	if status/100 != 2 {
		a := attempt{status: status, wrote: true, retryAfter: h.Get("Retry-After") != ""}
		return h, retryable(r.keyed, a), newAPIError(status, data)
	}
	if r.raw != nil {
		*r.raw = data
	} else if r.out != nil {
		if err := decodeReply(data, r.out); err != nil {
			return h, false, fmt.Errorf("client: %s %s: decoding reply: %w", r.method, r.path, err)
		}
	}
	return h, false, nil
}

// indexOf reads the X-Flotilla-Index header.
func indexOf(h http.Header) uint64 {
	n, _ := strconv.ParseUint(h.Get(IndexHeader), 10, 64)
	return n
}

// esc escapes one path segment.
func esc(s string) string { return url.PathEscape(s) }

// call is do for calls whose reply is a T.
func call[T any](ctx context.Context, c *Client, method, path string, query url.Values, body any) (*T, error) {
	out := new(T)
	if _, err := c.do(ctx, request{method: method, path: path, query: query, body: body, out: out}); err != nil {
		return nil, err
	}
	return out, nil
}

// callKeyed is call for a POST that carries an idempotency key (the
// hub answers a repeat with the first outcome): it may be retried when
// its outcome is unknown.
func callKeyed[T any](ctx context.Context, c *Client, path string, body any) (*T, error) {
	out := new(T)
	if _, err := c.do(ctx, request{method: http.MethodPost, path: path, body: body, out: out, keyed: true}); err != nil {
		return nil, err
	}
	return out, nil
}

// list is call for calls whose reply is a JSON array.
func list[T any](ctx context.Context, c *Client, path string, query url.Values) ([]T, error) {
	var out []T
	if _, err := c.do(ctx, request{method: http.MethodGet, path: path, query: query, out: &out}); err != nil {
		return nil, err
	}
	return out, nil
}

// del performs a DELETE.
func (c *Client) del(ctx context.Context, path string, opts ...WriteOption) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: path, query: writeQuery(opts)})
	return err
}

// decodeReply decodes a JSON reply into out as json.Unmarshal does; a job
// by decodeJob.
func decodeReply(data []byte, out any) error {
	if j, ok := out.(*structs.Job); ok {
		return decodeJob(data, j)
	}
	return json.Unmarshal(data, out)
}
