package arraytask

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
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
	done    chan struct{}
	once    sync.Once
	srv     *http.Server
}

// NewServer returns a server of d; j may be nil (no journal). now is the
// clock the leases are measured by.
func NewServer(d *Dispatcher, j *Journal, token string, now func() time.Time, log *slog.Logger) *Server {
	s := &Server{d: d, j: j, token: token, now: now, log: log, done: make(chan struct{})}
	if d.Done() {
		s.once.Do(func() { close(s.done) })
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathPull, s.pull)
	mux.HandleFunc("GET "+PathProgress, s.progress)
	mux.HandleFunc("POST "+PathCancel, s.cancel)
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

// Close stops serving.
func (s *Server) Close() error { return s.srv.Close() }

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

func (s *Server) pull(w http.ResponseWriter, r *http.Request) {
	var p Pull
	if err := json.NewDecoder(io.LimitReader(r.Body, 8<<20)).Decode(&p); err != nil || p.Worker == "" || p.Free < 0 {
		http.Error(w, "bad pull", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	g, recs := s.d.Handle(p, s.now())
	err := s.append(recs)
	if len(recs) > 0 {
		s.version++
	}
	done := s.d.Done()
	s.mu.Unlock()
	if err != nil {
		// The state moved on in memory but is not durable: stop answering
		// rather than hand out work the journal does not know of.
		s.log.Error("journal write failed; dispatcher stops", "err", err)
		http.Error(w, "journal", http.StatusInternalServerError)
		go s.Close()
		return
	}
	if done {
		s.once.Do(func() { close(s.done) })
	}
	writeJSON(w, g)
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
		err := s.append(recs)
		if len(recs) > 0 {
			s.version++
			s.log.Warn("worker leases expired: their tasks are granted again", "attempts", len(recs))
		}
		s.mu.Unlock()
		if err != nil {
			s.log.Error("journal write failed; dispatcher stops", "err", err)
			s.Close()
			return
		}
	}
}

func (s *Server) append(recs []Record) error {
	if s.j == nil {
		return nil
	}
	return s.j.Append(recs)
}

func (s *Server) progress(w http.ResponseWriter, _ *http.Request) {
	p, _ := s.Snapshot()
	writeJSON(w, p)
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
	err := s.append(recs)
	s.version++
	done := s.d.Done()
	s.mu.Unlock()
	if done {
		s.once.Do(func() { close(s.done) })
	}
	return err
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
