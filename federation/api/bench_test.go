package api

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// handlerReplica is the replica behind a Server in the handler's
// benchmark: a real store and authenticator, and a job write that stores
// nothing but answers as the hub's does (the QUEUED job, its audit event
// folded into the command).
type handlerReplica struct {
	store *state.Store
	next  atomic.Uint64
}

func (h *handlerReplica) Store() *state.Store                  { return h.store }
func (h *handlerReplica) ConsistentRead(context.Context) error { return nil }
func (h *handlerReplica) Leader() string                       { return "hub-0" }
func (h *handlerReplica) LeaderAPI() string                    { return "http://127.0.0.1:8080" }

func (h *handlerReplica) Write(context.Context, fsm.Command) (any, error) { return nil, nil }

func (h *handlerReplica) SubmitJob(ctx context.Context, caller *authz.Identity, req *structs.JobSubmitRequest) (*structs.Job, error) {
	n := h.next.Add(1)
	if pa := PendingAuditOf(ctx); pa != nil && pa.Take() {
		pa.Recorded()
	}
	return &structs.Job{ID: req.ID, Number: n, Name: "solver-" + strconv.FormatUint(n, 10), Tenant: caller.Tenant,
		Owner: caller.Username, App: req.App, Command: "Run", MachineType: req.MachineType, Nodes: req.Nodes,
		State: structs.JobQueued, SubmitTime: time.Unix(1764000000, 0).UTC(), RequestID: RequestID(ctx),
		RaftIndex: structs.RaftIndex{CreateIndex: n + 10, ModifyIndex: n + 10}}, nil
}

func (h *handlerReplica) SubmitScriptJob(context.Context, *authz.Identity, *structs.JobSubmitRequest, *structs.App) (*structs.Job, error) {
	return nil, structs.Errorf(structs.ErrInvalid, "not in this benchmark")
}

func (h *handlerReplica) CancelJob(context.Context, *authz.Identity, *structs.Job, string, string) (*structs.Job, error) {
	return nil, structs.Errorf(structs.ErrInvalid, "not in this benchmark")
}

func (h *handlerReplica) ReportClusterStatus(context.Context, string, *structs.ClusterStatusReport) (*structs.ClusterStatusResult, error) {
	return nil, structs.Errorf(structs.ErrInvalid, "not in this benchmark")
}

// newHandlerServer returns a Server over a store holding tenant bench and
// its user bench, and that user's API key.
func newHandlerServer(tb testing.TB) (*Server, string) {
	tb.Helper()
	store, err := state.New()
	if err != nil {
		tb.Fatal(err)
	}
	key, stored := auth.NewKey(auth.UserKeyPrefix, time.Now())
	w := store.Write(1)
	if err := w.UpsertTenant(&structs.Tenant{Name: "bench"}, structs.CAS{}); err != nil {
		tb.Fatal(err)
	}
	if err := w.UpsertUser(&structs.User{Username: "bench", Tenant: "bench", Role: structs.RoleUser,
		APIKeys: []structs.APIKeyHash{stored}}, structs.CAS{}); err != nil {
		tb.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		tb.Fatal(err)
	}
	authn, err := auth.New(store, auth.Config{BcryptCost: bcrypt.MinCost})
	if err != nil {
		tb.Fatal(err)
	}
	rep := &handlerReplica{store: store}
	s := New(Config{Reads: rep, Writes: rep, Jobs: rep, Leadership: rep, Auth: authn, Now: time.Now, Limits: &Limits{}})
	return s, key
}

// BenchmarkSubmitHandler measures the API's own work for one job
// submission, as the Go client sends it (POST /v1/jobs with its headers
// and a request id), without the network and without the replica's
// admission and write: routing, authentication (a key verified before),
// the body's decoding, the pending audit event, the reply's encoding.
// The figures include the benchmark's own request, body and recorder
// (about 15 allocations: its request, body and recorder, and the
// recorder's refusal of write deadlines).
func BenchmarkSubmitHandler(b *testing.B) {
	s, key := newHandlerServer(b)
	bearer := []string{"Bearer " + key}
	var k int
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		k++
		serveSubmit(b, s, bearer, "j-bench-"+strconv.Itoa(k), "req-"+strconv.Itoa(k))
	}
	// CPU time rather than wall time: it holds on a shared machine.
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// processCPU is the user and system CPU time of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serveSubmit posts a one-node job submission with id and request id
// straight to the handler, as a client would send it, and fails tb unless
// it is accepted.
func serveSubmit(tb testing.TB, h http.Handler, bearer []string, id, requestID string) {
	body := []byte(`{"id":"` + id + `","app":"solver","machine_type":"n1","nodes":1}`)
	req, err := http.NewRequest(http.MethodPost, "http://hub/v1/jobs", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.RemoteAddr = "192.0.2.1:40000"
	req.Header["Authorization"] = bearer
	req.Header["Content-Type"] = jsonContentType
	req.Header["Accept"] = jsonContentType
	req.Header["X-Request-Id"] = []string{requestID}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		tb.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}
