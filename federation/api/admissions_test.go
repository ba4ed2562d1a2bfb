package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// countingReplica is handlerReplica whose admissions count how many run
// at once and each hold until the test sends a token.
type countingReplica struct {
	*handlerReplica
	cur, peak atomic.Int64
	release   chan struct{}
}

func (r *countingReplica) SubmitJob(ctx context.Context, caller *authz.Identity, req *structs.JobSubmitRequest) (*structs.Job, error) {
	n := r.cur.Add(1)
	for p := r.peak.Load(); n > p && !r.peak.CompareAndSwap(p, n); p = r.peak.Load() {
	}
	select {
	case <-r.release:
	case <-ctx.Done():
		r.cur.Add(-1)
		return nil, ctx.Err()
	}
	r.cur.Add(-1)
	return r.handlerReplica.SubmitJob(ctx, caller, req)
}

// TestBatchAdmissionsBoundedPerReplica: many batch calls at once admit
// at most Config.BatchAdmissions items together on the replica (each
// call alone would run 64), and every item is still admitted.
func TestBatchAdmissionsBoundedPerReplica(t *testing.T) {
	const bound, calls, perCall = 8, 6, 40
	base, key := newHandlerServer(t)
	rep := &countingReplica{handlerReplica: base.jobs.(*handlerReplica), release: make(chan struct{})}
	s := New(Config{Reads: rep, Writes: rep, Jobs: rep, Leadership: rep, Auth: base.authn, Now: time.Now,
		Limits: &Limits{}, BatchAdmissions: bound})
	var wg sync.WaitGroup
	for c := range calls {
		wg.Go(func() {
			items := make([]string, perCall)
			for i := range items {
				items[i] = fmt.Sprintf(`{"id":"j-adm-%d-%d","app":"solver","machine_type":"n1","nodes":1}`, c, i)
			}
			body := []byte(`{"jobs":[` + strings.Join(items, ",") + `]}`)
			req := httptest.NewRequest(http.MethodPost, "http://hub/v1/jobs/batch", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			var reply structs.JobBatchReply
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &reply) != nil {
				t.Errorf("call %d: %d %s", c, rec.Code, rec.Body)
				return
			}
			for i, it := range reply.Jobs {
				if it.Job == nil || it.Job.ID != fmt.Sprintf("j-adm-%d-%d", c, i) {
					t.Errorf("call %d item %d: %+v", c, i, it)
				}
			}
		})
	}
	// Let the admissions go one by one, each once as many run as the
	// bound allows (or as are left): the replica holds the others back.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(2 * time.Minute)
	for left := calls * perCall; left > 0; left-- {
		for rep.cur.Load() != int64(min(bound, left)) {
			if n := rep.cur.Load(); n > bound {
				t.Fatalf("%d admissions at once, want at most %d", n, bound)
			}
			select {
			case <-tick.C:
			case <-deadline:
				t.Fatalf("%d admissions running, want %d", rep.cur.Load(), min(bound, left))
			}
		}
		rep.release <- struct{}{}
	}
	wg.Wait()
	if p := rep.peak.Load(); p != bound {
		t.Errorf("%d admissions at once, want %d (the replica's bound, reached)", p, bound)
	}
}
