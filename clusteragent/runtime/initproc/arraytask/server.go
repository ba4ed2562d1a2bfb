package arraytask

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// ProgressMarker starts the line the head prints with the array's
// progress (JSON of structs.ArrayProgress follows); the agent reads the
// last one from the head's log and reports it to the hub.
const ProgressMarker = "FLOTILLA-ARRAY-PROGRESS "

// Paths the dispatcher serves.
const (
	PathPull     = "/v1/pull"
	PathProgress = "/v1/progress"
	PathCancel   = "/v1/cancel"
	PathOutput   = "/v1/output" // ?task=N
)

// Token derives the dispatcher's bearer token from the job's secret (its
// SSH private key, which only the job's pods hold).
func Token(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("flotilla array dispatcher v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// Server serves a Dispatcher to the workers. Every answer is sent after
// the records it implies are in the journal.
type Server struct {
	token string
	log   *slog.Logger
	now   func() time.Time

	mu      sync.Mutex
	d       *Dispatcher
	j       *Journal
	version uint64 // bumped by every change
	// Group commit: every change that writes records takes the next
	// sequence number (seq, under mu); synced (under syncMu) is the last
	// one on disk. One fsync covers every change flushed before it, so
	// concurrent pulls share it; an answer waits for its own sequence.
	seq    uint64
	syncMu sync.Mutex
	synced uint64
	done   chan struct{}
	once   sync.Once
	srv    *http.Server
	// changed is closed (and replaced) by every change, under mu: it
	// wakes long polls. closing is closed by Close.
	changed   chan struct{}
	closing   chan struct{}
	closeOnce sync.Once
	pulls     atomic.Uint64 // pulls served
	broken    atomic.Bool   // a journal write failed: no more answers
	held      atomic.Uint64 // pulls held for a long poll (each wait counted)
	// maxHold bounds how long a pull may be held (maxLongPoll; the
	// package's tests hold longer than they can take).
	maxHold time.Duration
}

// NewServer returns a server of d; j may be nil (no journal). now is the
// clock the leases are measured by.
func NewServer(d *Dispatcher, j *Journal, token string, now func() time.Time, log *slog.Logger) *Server {
	s := &Server{d: d, j: j, token: token, now: now, log: log, done: make(chan struct{}),
		changed: make(chan struct{}), closing: make(chan struct{}), maxHold: maxLongPoll}
	if d.Done() {
		s.once.Do(func() { close(s.done) })
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathPull, s.pull)
	mux.HandleFunc("GET "+PathProgress, s.progress)
	mux.HandleFunc("POST "+PathCancel, s.cancel)
	mux.HandleFunc("GET "+PathOutput, s.output)
	s.srv = &http.Server{Handler: s.auth(mux), ReadHeaderTimeout: 10 * time.Second}
	return s
}

// Serve serves on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	err := s.srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops serving at once, dropping the answers in flight.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	return s.srv.Close()
}

// Shutdown stops serving once the answers in flight are written (held
// pulls are answered at once with what there is), or when ctx ends. The
// head shuts down this way when the array is done: the pull that
// reported the last result is answered, so its worker learns it may
// leave instead of asking a dispatcher that is gone.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.closing) })
	if err := s.srv.Shutdown(ctx); err != nil {
		return errors.Join(err, s.srv.Close())
	}
	return nil
}

// Done is closed once every task is final.
func (s *Server) Done() <-chan struct{} { return s.done }

// Snapshot returns the progress and a version that changes with it.
func (s *Server) Snapshot() (structs.ArrayProgress, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.d.Progress(), s.version
}

func (s *Server) auth(next http.Handler) http.Handler {
	want := []byte("Bearer " + s.token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Pulls is how many pulls the server answered or refused (a figure of
// its cost per task: every pull is a round trip and a journal sync).
func (s *Server) Pulls() uint64 { return s.pulls.Load() }

func (s *Server) pull(w http.ResponseWriter, r *http.Request) {
	var p Pull
	if err := json.NewDecoder(io.LimitReader(r.Body, 8<<20)).Decode(&p); err != nil {
		s.pulls.Add(1)
		http.Error(w, "bad pull", http.StatusBadRequest)
		return
	}
	g, err := s.Pull(r.Context(), p)
	switch {
	case errors.Is(err, ErrBadPull):
		http.Error(w, "bad pull", http.StatusBadRequest)
	case errors.Is(err, ErrServerClosed):
		http.Error(w, "dispatcher stopped", http.StatusServiceUnavailable)
	case err != nil:
		http.Error(w, "journal", http.StatusInternalServerError)
	default:
		writeJSON(w, g)
	}
}

// ErrBadPull: a pull without a worker name, or with a negative count.
var ErrBadPull = errors.New("bad pull")

// ErrServerClosed: the server stopped answering after a journal failure.
var ErrServerClosed = errors.New("array dispatcher closed")

// ErrJournal: the dispatcher could not make a change durable; it stops
// answering (the state moved on in memory but the journal does not know).
var ErrJournal = errors.New("array journal write failed")

// Pull answers one worker's pull, as POST PathPull does: the head's own
// worker calls it in-process (no HTTP, no JSON). It returns once the
// records the answer implies are on disk; with p.WaitMillis, a worker
// holding nothing waits until there is something for it, ctx ends or the
// server closes.
func (s *Server) Pull(ctx context.Context, p Pull) (Grant, error) {
	s.pulls.Add(1)
	if p.Worker == "" || p.Free < 0 || p.WaitMillis < 0 {
		return Grant{}, ErrBadPull
	}
	if s.broken.Load() {
		return Grant{}, ErrServerClosed
	}
	var wait <-chan time.Time
	if p.WaitMillis > 0 && len(p.Done) == 0 && len(p.Holding) == 0 {
		t := time.NewTimer(min(time.Duration(p.WaitMillis)*time.Millisecond, s.maxHold))
		defer t.Stop()
		wait = t.C
	}
	var (
		g    Grant
		seq  uint64
		err  error
		done bool
	)
	for {
		s.mu.Lock()
		var recs []Record
		g, recs = s.d.Handle(p, s.now())
		var n uint64
		n, err = s.buffer(recs)
		seq = max(seq, n)
		if len(recs) > 0 {
			s.changedLocked()
		}
		done = s.d.Done()
		changed := s.changed
		s.mu.Unlock()
		p.Done = nil // applied: a second round only asks again
		// A worker holding nothing, granted nothing, waits (long poll)
		// until something changes: a task ends, is canceled or expires.
		idle := len(g.Tasks) == 0 && len(g.Kill) == 0 && !g.AllDone && (!g.Drained || p.Stay)
		if err != nil || wait == nil || !idle {
			break
		}
		s.held.Add(1)
		select {
		case <-changed:
			continue
		case <-wait:
		case <-ctx.Done():
		case <-s.closing:
		}
		break
	}
	if err == nil {
		err = s.commit(seq)
	}
	if err != nil {
		// The state moved on in memory but is not durable: stop answering
		// rather than hand out work the journal does not know of.
		s.log.Error("journal write failed; dispatcher stops", "err", err)
		s.broken.Store(true)
		go s.Close()
		return Grant{}, fmt.Errorf("%w: %w", ErrJournal, err)
	}
	if done {
		s.once.Do(func() { close(s.done) })
	}
	return g, nil
}

// maxLongPoll bounds how long a pull may be held.
const maxLongPoll = 5 * time.Second

// changedLocked bumps the version and wakes the pulls waiting for a
// change; s.mu is held.
func (s *Server) changedLocked() {
	s.version++
	close(s.changed)
	s.changed = make(chan struct{})
}

// ExpireLeases expires the leases of silent workers every interval until
// ctx ends (pulls expire them too; this covers a dispatcher no one pulls).
func (s *Server) ExpireLeases(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		recs := s.d.Expire(s.now())
		seq, err := s.buffer(recs)
		if len(recs) > 0 {
			s.changedLocked()
			s.log.Warn("worker leases expired: their tasks are granted again", "attempts", len(recs))
		}
		s.mu.Unlock()
		if err == nil {
			err = s.commit(seq)
		}
		if err != nil {
			s.log.Error("journal write failed; dispatcher stops", "err", err)
			s.Close()
			return
		}
	}
}

// buffer adds records to the journal's buffer and returns their sequence
// (0: nothing to wait for); s.mu is held.
func (s *Server) buffer(recs []Record) (uint64, error) {
	if s.j == nil || len(recs) == 0 {
		return 0, nil
	}
	if err := s.j.Buffer(recs); err != nil {
		return 0, err
	}
	s.seq++
	return s.seq, nil
}

// commit returns once the change of sequence seq is on disk: the first
// waiter flushes everything buffered and syncs it, those behind it find
// their change already synced.
func (s *Server) commit(seq uint64) error {
	if seq == 0 {
		return nil
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.synced >= seq {
		return nil
	}
	s.mu.Lock()
	err := s.j.Flush()
	upto := s.seq
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := s.j.Sync(); err != nil {
		return err
	}
	s.synced = upto
	return nil
}

func (s *Server) progress(w http.ResponseWriter, _ *http.Request) {
	p, _ := s.Snapshot()
	writeJSON(w, p)
}

// output answers one task's state and last output (see Dispatcher.Output).
func (s *Server) output(w http.ResponseWriter, r *http.Request) {
	index, err := strconv.Atoi(r.URL.Query().Get("task"))
	if err != nil {
		http.Error(w, "task: want an index", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	res, ok := s.d.Output(index)
	s.mu.Unlock()
	if !ok {
		http.Error(w, "task: not an index of the array", http.StatusNotFound)
		return
	}
	writeJSON(w, res)
}

// Output is Dispatcher.Output under the server's lock.
func (s *Server) Output(index int) (structs.TaskResult, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.d.Output(index)
}

// CancelRequest is the body of POST /v1/cancel.
type CancelRequest struct {
	Tasks []int `json:"tasks"`
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	var c CancelRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 8<<20)).Decode(&c); err != nil {
		http.Error(w, "bad cancel", http.StatusBadRequest)
		return
	}
	if err := s.Cancel(c.Tasks); err != nil {
		http.Error(w, "journal", http.StatusInternalServerError)
		return
	}
	p, _ := s.Snapshot()
	writeJSON(w, p)
}

// Cancel cancels tasks by index (see Dispatcher.Cancel).
func (s *Server) Cancel(indices []int) error {
	s.mu.Lock()
	recs := s.d.Cancel(indices)
	seq, err := s.buffer(recs)
	s.changedLocked()
	done := s.d.Done()
	s.mu.Unlock()
	if err == nil {
		err = s.commit(seq)
	}
	if done {
		s.once.Do(func() { close(s.done) })
	}
	return err
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
