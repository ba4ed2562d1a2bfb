package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
)

// DefaultMaxBodyBytes bounds request bodies unless Config says otherwise.
const DefaultMaxBodyBytes = 1 << 20

// Config configures a Server.
type Config struct {
	// The replica behind the API (see Reads and the other interfaces).
	Reads      Reads
	Writes     Writes
	Jobs       Jobs
	Leadership Leadership
	Internal   Internal
	Membership Membership
	// Services fires triggers and derives callback secrets (nil: those
	// endpoints are unavailable).
	Services Services
	// Now is the hub's clock (stamps keys, paces rate limits and watches).
	Now  func() time.Time
	Auth *auth.Authenticator
	// InternalSecret authenticates other replicas on /internal/v1/...;
	// empty disables those endpoints.
	InternalSecret string
	// PeerCertRequired makes the internal endpoints also require a client
	// certificate that the TLS layer verified against the replicas' CA
	// (mutual TLS between replicas); set whenever the API serves TLS.
	PeerCertRequired bool
	// CAPin is the pin of the CA that signed the API's certificate
	// (hubtls.Pin); bootstrap tokens carry it so that a new agent can
	// check the hub on first contact. Empty: tokens carry no pin.
	CAPin string
	// MaxBodyBytes limits request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// BatchImage is the container image a job script runs in when its
	// submission names none; "" makes the image required.
	BatchImage string
	// PrivateCatalog makes /jarvice/apps want credentials like every
	// other endpoint; false lists the public apps to callers without
	// any, as the reference does.
	PrivateCatalog bool
	// Limits bound request rates; nil means DefaultLimits, a zero Limits
	// no limits.
	Limits *Limits
	// BatchAdmissions bounds the items of batch calls admitted at once on
	// this replica, across calls; 0 means DefaultBatchAdmissions.
	BatchAdmissions int
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// KeyUsed, if set, is told of every successful request a user API key
	// authenticated, before the reply (it records last-used times; a
	// refused request records nothing, so it changes no state).
	KeyUsed func(ctx context.Context, id *authz.Identity)
}

// Server is the API's http.Handler.
type Server struct {
	reads    Reads
	writes   Writes
	jobs     Jobs
	leader   Leadership
	internal Internal
	members  Membership
	services Services
	now      func() time.Time
	authn    *auth.Authenticator
	secret   []byte
	peerCert bool
	caPin    string
	maxBody  int64
	batchImg string
	// privateCatalog: /jarvice/apps wants credentials (Config).
	privateCatalog bool
	limits         *limiter
	unknown        *unknownKeys
	// admissions holds a token per batch item being admitted
	// (BatchAdmissions).
	admissions chan struct{}
	// wall is the real clock, for network deadlines: they must follow the
	// kernel's time even when the hub's clock is a test's.
	wall func() time.Time
	log  *slog.Logger
	mux  *http.ServeMux
	// keyUsed is Config.KeyUsed, or a no-op.
	keyUsed func(context.Context, *authz.Identity)
	// draining ends when the replica starts to shut down (Drain): watches
	// and event streams end with it instead of holding the drain up.
	draining context.Context
	drain    context.CancelFunc
	// leaderHdr is the last LeaderHeader value replies carried.
	leaderHdr atomic.Pointer[[]string]
}

// New returns the API server.
func New(cfg Config) *Server {
	s := &Server{reads: cfg.Reads, writes: cfg.Writes, jobs: cfg.Jobs, leader: cfg.Leadership,
		internal: cfg.Internal, members: cfg.Membership, services: cfg.Services, now: cfg.Now, authn: cfg.Auth, secret: []byte(cfg.InternalSecret),
		peerCert: cfg.PeerCertRequired, caPin: cfg.CAPin,
		maxBody: cfg.MaxBodyBytes, batchImg: cfg.BatchImage, privateCatalog: cfg.PrivateCatalog, log: cfg.Logger, mux: http.NewServeMux()}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	limits := DefaultLimits
	if cfg.Limits != nil {
		limits = *cfg.Limits
	}
	s.limits = newLimiter(limits, cfg.Now)
	if cfg.BatchAdmissions <= 0 {
		cfg.BatchAdmissions = DefaultBatchAdmissions
	}
	s.admissions = make(chan struct{}, cfg.BatchAdmissions)
	s.wall = time.Now
	s.unknown = newUnknownKeys(cfg.Now)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.draining, s.drain = context.WithCancel(context.Background())
	s.keyUsed = cfg.KeyUsed
	if s.keyUsed == nil {
		s.keyUsed = func(context.Context, *authz.Identity) {}
	}
	s.routes()
	return s
}

// RequestIDHeader carries a request's id: honoured when a caller sends a
// sane one, generated otherwise, and returned in every reply.
const RequestIDHeader = "X-Request-Id"

// requestKey is the context key of a request's requestInfo.
type requestKey struct{}

// requestInfo is what ServeHTTP attaches to a request's context, once: its
// id and, for a folding route, the pending audit event the handler sets
// (pendAudit) before the write path reads it. One context value and one
// request copy per request instead of one of each per datum.
type requestInfo struct {
	id      string
	pending *PendingAudit
}

// requestCtx is a request's context with its requestInfo: the value and
// the context that carries it in one allocation, where context.WithValue
// and the info were two. Everything else is the request's own context:
// its Done channel is that context's, so contexts derived from it
// (WithTimeout, WithCancel) register with net/http's context directly, as
// they did through a WithValue context.
type requestCtx struct {
	context.Context
	info requestInfo
}

// Value returns the request's info for requestKey, else the request's
// context's value.
func (c *requestCtx) Value(key any) any {
	if _, ok := key.(requestKey); ok {
		return &c.info
	}
	return c.Context.Value(key)
}

// String names the context for debugging (as context.WithValue's does).
func (c *requestCtx) String() string { return "api.requestCtx" }

// requestOf returns the request info ctx carries, nil outside ServeHTTP.
func requestOf(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(requestKey{}).(*requestInfo)
	return ri
}

// RequestID returns the id of the request ctx belongs to, "" outside one.
func RequestID(ctx context.Context) string {
	if ri := requestOf(ctx); ri != nil {
		return ri.id
	}
	return ""
}

// saneRequestID accepts up to 128 printable ASCII characters.
func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// ServeHTTP implements http.Handler: it stamps the request id, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The reply echoes a sane id with the request's own value slice
	// (net/http never changes a header's values): no copy per request.
	vs := r.Header[RequestIDHeader]
	var id string
	if len(vs) == 1 && saneRequestID(vs[0]) {
		id = vs[0]
	} else {
		if id = r.Header.Get(RequestIDHeader); !saneRequestID(id) {
			id = rand.Text()
		}
		vs = []string{id}
	}
	w.Header()[RequestIDHeader] = vs
	rr := r.WithContext(&requestCtx{Context: r.Context(), info: requestInfo{id: id}})
	s.mux.ServeHTTP(w, rr)
	r.Pattern = rr.Pattern // the route that served it, for the caller's metrics
}

// leaderValue is the LeaderHeader value of a reply, nil while no leader
// is known: one slice per leader, shared by the replies (net/http never
// changes a header's values), where Header.Set made one per request.
func (s *Server) leaderValue() []string {
	l := s.leader.LeaderAPI()
	if l == "" {
		return nil
	}
	if p := s.leaderHdr.Load(); p != nil && (*p)[0] == l {
		return *p
	}
	v := []string{l}
	s.leaderHdr.Store(&v)
	return v
}

// audience is who may call an endpoint, checked before the handler runs.
type audience int

const (
	public   audience = iota // no credentials (health; JARVICE checks its own)
	anyone                   // a user or an agent
	users                    // a user
	internal                 // another replica (shared secret)
)

// call is one request being handled.
type call struct {
	s  *Server
	w  http.ResponseWriter
	r  *http.Request
	id *authz.Identity
	// written holds the raft indexes of the object the call's last upsert
	// stored.
	written *structs.RaftIndex
	// object, if set by the handler, names the call's object in its audit
	// event (see auditObject).
	object string
	// detail, if set by the handler, is its audit event's detail when
	// the call succeeds (what it did, e.g. the image a pull set).
	detail string
	// pending is the audit event a folding route's job command carries.
	pending *PendingAudit
}

type handler func(c *call) (any, error)

// rawReply is a reply that is not JSON (text/plain logs, CSV).
type rawReply struct {
	contentType string
	body        []byte
	header      http.Header // further headers (caching)
	status      int         // 0: 200
}

// streamed is the value of a handler that wrote its reply (a stream).
type streamed struct{}

// handle registers h for pattern behind the audience check.
func (s *Server) handle(pattern string, a audience, h handler) {
	spec, isAudited := auditSpecOf(pattern)
	fold := isAudited && folded[pattern]
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if a != internal {
			if l := s.leaderValue(); l != nil {
				w.Header()[LeaderHeader] = l
			}
		}
		c := &call{s: s, w: w, r: r}
		c.writeWithin(replyTimeout)
		v, err := s.admit(c, a)
		if err == nil {
			if fold {
				s.pendAudit(c, spec)
			}
			v, err = h(c)
		}
		if err == nil && c.id != nil && c.id.KeyID != "" {
			s.keyUsed(c.r.Context(), c.id)
		}
		if isAudited {
			s.audit(c, spec, v, err)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if _, ok := v.(streamed); ok {
			return // the handler wrote the reply itself
		}
		if raw, ok := v.(*rawReply); ok {
			for k, vs := range raw.header {
				w.Header()[k] = vs
			}
			status := raw.status
			if status == 0 {
				status = http.StatusOK
			}
			if status != http.StatusNotModified {
				w.Header().Set("Content-Type", raw.contentType)
				w.Header().Set("Content-Length", strconv.Itoa(len(raw.body)))
			}
			w.WriteHeader(status)
			_, _ = w.Write(raw.body)
			return
		}
		c.replyIndexes(v)
		writeJSON(w, http.StatusOK, redactReply(v, s.now))
	})
}

func (s *Server) admit(c *call, a audience) (any, error) {
	switch a {
	case anyone, users:
		if id, ok := preAuthenticated(c.r); ok {
			if err := s.limits.afterAuth(id.Subject()); err != nil {
				return nil, err
			}
			if a == users && !id.IsUser() {
				return nil, structs.Errorf(structs.ErrForbidden, "users only")
			}
			c.id = id
			return nil, nil
		}
		id, err := c.login(c.r.Header.Get("Authorization"), func() (*authz.Identity, error) { return s.authn.Request(c.r) })
		if err != nil {
			return nil, err
		}
		if a == users && !id.IsUser() {
			return nil, structs.Errorf(structs.ErrForbidden, "users only")
		}
		c.id = id
	case internal:
		if s.peerCert && !hubtls.IsPeer(c.r.TLS) {
			return nil, structs.Errorf(structs.ErrUnauthorized, "internal endpoint: a replica certificate is required")
		}
		got := []byte(c.r.Header.Get(InternalSecretHeader))
		if len(s.secret) == 0 || subtle.ConstantTimeCompare(got, s.secret) != 1 {
			return nil, structs.Errorf(structs.ErrUnauthorized, "internal endpoint")
		}
	case public:
		// Public endpoints that take credentials (JARVICE) log in through
		// c.login; the rest are only rate limited per address.
		if err := s.limits.beforeAuth(c.r); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// login authenticates the caller with authn, given the credential it
// presents (cred, kept only as a hash): the address is rate limited
// first, and refused while it has failed to authenticate too often; a key
// this replica does not know makes its view current once (it may lag the
// leader) and is then remembered as unknown for a short while, so that
// repeated bad keys cost no linearizable read each; a failure counts
// against the address, a success against the caller's rate.
func (c *call) login(cred string, authn func() (*authz.Identity, error)) (*authz.Identity, error) {
	s := c.s
	if err := s.limits.beforeAuth(c.r); err != nil {
		return nil, err
	}
	id, err := authn()
	if errors.Is(err, auth.ErrUnknownKey) && !s.unknown.has(cred) {
		if cerr := s.reads.ConsistentRead(c.r.Context()); cerr == nil {
			if id, err = authn(); errors.Is(err, auth.ErrUnknownKey) {
				s.unknown.add(cred)
			}
		}
	}
	if err != nil {
		if errors.Is(err, structs.ErrUnauthorized) {
			s.limits.failedAuth(c.r)
		}
		return nil, err
	}
	if err := s.limits.afterAuth(id.Subject()); err != nil {
		return nil, err
	}
	return id, nil
}

// replyTimeout bounds writing a reply (watches add their wait to it).
const replyTimeout = time.Minute

// writeWithin sets the deadline for writing the reply to d from now. A
// connection that does not support deadlines keeps the server's.
func (c *call) writeWithin(d time.Duration) {
	_ = http.NewResponseController(c.w).SetWriteDeadline(c.s.wall().Add(d))
}

// setIndex sets the X-Flotilla-Index header.
func (c *call) setIndex(index uint64) {
	c.w.Header().Set(IndexHeader, strconv.FormatUint(index, 10))
}

// view returns a read transaction, first waiting for a linearizable view
// when the request asks ?consistent=true.
func (c *call) view() (*state.ReadTxn, error) {
	if q := c.r.URL.Query().Get("consistent"); q != "" {
		on, err := strconv.ParseBool(q)
		if err != nil {
			return nil, invalid("consistent: want true or false")
		}
		if on {
			if err := c.s.reads.ConsistentRead(c.r.Context()); err != nil {
				return nil, err
			}
		}
	}
	return c.s.reads.Store().Read(), nil
}

func (s *Server) healthz(*call) (any, error) {
	return map[string]string{"status": "ok"}, nil
}

func (s *Server) readyz(*call) (any, error) {
	leader := s.leader.Leader()
	if leader == "" {
		return nil, structs.Errorf(structs.ErrUnavailable, "no leader known")
	}
	return map[string]string{"status": "ready", "leader": leader}, nil
}

func (s *Server) notFound(c *call) (any, error) {
	return nil, &noEndpointError{method: c.r.Method, path: c.r.URL.Path}
}

// replyIndexes gives the object a PUT replies with the raft indexes its
// upsert stored it at (the request body it echoes has none), so the
// caller can make its next write conditional (?cas=) without a GET. The
// X-Flotilla-Index header carries the modify index.
func (c *call) replyIndexes(v any) {
	if c.written == nil {
		return
	}
	// Every handler that upserts replies with the object it wrote (or with
	// something that has no raft indexes, like a new key).
	if o, ok := v.(interface{ GetRaftIndex() *structs.RaftIndex }); ok {
		if rv := reflect.ValueOf(o); rv.Kind() != reflect.Pointer || !rv.IsNil() {
			*o.GetRaftIndex() = *c.written
		}
	}
	c.setIndex(c.written.ModifyIndex)
}
