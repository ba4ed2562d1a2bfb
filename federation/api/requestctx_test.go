package api

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestRequestCtx: the request's context carries its info and is the
// request's own context otherwise: its values, its cancellation, and
// contexts derived from it register with it without a goroutine each (as
// they would with a context of the context package).
func TestRequestCtx(t *testing.T) {
	type otherKey struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), otherKey{}, "v"))
	rc := &requestCtx{Context: parent, info: requestInfo{id: "req-1"}}
	if got := RequestID(rc); got != "req-1" {
		t.Errorf("RequestID = %q, want req-1", got)
	}
	if got := rc.Value(otherKey{}); got != "v" {
		t.Errorf("parent's value = %v, want v", got)
	}
	if requestOf(rc) != requestOf(rc) || requestOf(rc) != &rc.info {
		t.Errorf("requestOf does not return the context's own info")
	}
	if requestOf(parent) != nil {
		t.Errorf("a context outside ServeHTTP has request info")
	}
	before := runtime.NumGoroutine()
	children := make([]context.Context, 100)
	for i := range children {
		var stop context.CancelFunc
		children[i], stop = context.WithTimeout(rc, time.Hour)
		defer stop()
	}
	if after := runtime.NumGoroutine(); after > before+10 {
		t.Errorf("deriving 100 contexts started %d goroutines", after-before)
	}
	cancel()
	for i, c := range children {
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("child %d not cancelled with the request", i)
		}
	}
	if rc.Err() == nil {
		t.Errorf("the request's context is not done after its cancellation")
	}
}

// TestSubmitHandlerAllocations bounds what the API server allocates for
// one submission outside admission and the write (the stand-in replica
// of BenchmarkSubmitHandler answers for them), the benchmark's own
// request, body and recorder included.
func TestSubmitHandlerAllocations(t *testing.T) {
	s, key := newHandlerServer(t)
	bearer := []string{"Bearer " + key}
	k := 0
	allocs := testing.AllocsPerRun(200, func() {
		k++
		serveSubmit(t, s, bearer, "j-alloc-"+strconv.Itoa(k), "req-"+strconv.Itoa(k))
	})
	t.Logf("%.0f allocations per submission", allocs)
	if allocs > 34 {
		t.Errorf("%.0f allocations per submission, want at most 34", allocs)
	}
}
