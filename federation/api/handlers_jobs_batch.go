package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// POST /v1/jobs/batch takes up to structs.MaxBatchJobs submissions in one
// body, {"jobs": [...]}, each exactly what POST /v1/jobs takes, and
// admits each on its own through the single submission's path (decoder,
// job scripts, admission, idempotency by the item's id, audit folded
// into the job's raft entry): a refused item changes nothing and stops
// no other. The items are submitted concurrently, so that the replica's
// raft batcher packs them into shared log entries. The reply is 200 with
// one outcome per item, in order; only a body that is not that shape is
// one refusal (400, 413 past the batch body limit), and then nothing is
// stored.
//
// An item may name an earlier item of the same batch in its dependency
// by the id the client stamped on it: it is admitted once that item's
// outcome is known (refused with the reason when that item was). Naming
// itself or a later item is refused, as is an id two items carry.

// batchWorkers bounds the items of one batch in flight at once.
const batchWorkers = 64

// DefaultBatchAdmissions bounds the items of all batch calls admitted at
// once on one replica (Config.BatchAdmissions): many concurrent batches
// wait for a turn instead of running thousands of admissions together.
const DefaultBatchAdmissions = 256

// batchBodyFactor: a batch's body may be this many times the hub's body
// limit (MaxBodyBytes, 1 MiB by default: 16 MiB); each item stays under
// the body limit of a single submission.
const batchBodyFactor = 16

// submitAudit is how each item of a batch is audited: as POST /v1/jobs.
var submitAudit = auditSpec{"job", "submit"}

// batchBody is the batch as decoded before its items: each item's bytes
// go to the single submission's decoder.
type batchBody struct {
	Jobs []json.RawMessage `json:"jobs"`
}

// decodeJobBatch reads a batch body: an object with exactly "jobs", a
// list of 1 to MaxBatchJobs values.
func decodeJobBatch(r io.Reader) ([][]byte, error) {
	var b batchBody
	if err := decodeStrict(r, &b); err != nil {
		return nil, err
	}
	switch {
	case b.Jobs == nil:
		return nil, invalid(`request body: want {"jobs": [submission, ...]}`)
	case len(b.Jobs) == 0:
		return nil, invalid("jobs: empty: want 1 to %d submissions", structs.MaxBatchJobs)
	case len(b.Jobs) > structs.MaxBatchJobs:
		return nil, invalid("jobs: %d submissions: at most %d in one batch", len(b.Jobs), structs.MaxBatchJobs)
	}
	items := make([][]byte, len(b.Jobs))
	for i, raw := range b.Jobs {
		items[i] = raw
	}
	return items, nil
}

// batchItem is one item of a batch being admitted.
type batchItem struct {
	req  *structs.JobSubmitRequest
	err  error // refused before admission (decoding, the batch's own rules)
	job  *structs.Job
	deps []int         // earlier items its dependency names
	done chan struct{} // closed when job or err is final
}

// batchReplyTimeout bounds writing a batch's reply, from the call's
// start: a thousand admissions on a loaded replica may take longer than
// a single call's replyTimeout.
const batchReplyTimeout = 5 * time.Minute

func (s *Server) submitJobBatch(c *call) (any, error) {
	c.writeWithin(batchReplyTimeout)
	raws, err := decodeJobBatch(http.MaxBytesReader(c.w, c.r.Body, batchBodyFactor*s.maxBody))
	if err != nil {
		s.audit(c, submitAudit, nil, err) // a refused call is audited as a refused submission is
		return nil, err
	}
	items := make([]*batchItem, len(raws))
	byID := make(map[string]int, len(raws))
	for i, raw := range raws {
		it := &batchItem{done: make(chan struct{})}
		items[i] = it
		if int64(len(raw)) > s.maxBody {
			it.err = structs.Errorf(structs.ErrTooLarge, "submission over the limit of %d bytes", s.maxBody)
			continue
		}
		if it.req, it.err = decodeJobSubmit(bytes.NewReader(raw)); it.err != nil {
			continue
		}
		if id := it.req.ID; id != "" {
			if j, ok := byID[id]; ok {
				it.err = &structs.FieldError{Object: "job", Field: "id", Msg: fmt.Sprintf("%q repeats item %d of this batch", id, j)}
				continue
			}
			byID[id] = i
		}
	}
	for i, it := range items {
		if it.err == nil && it.req.Dependency != "" {
			it.deps, it.err = batchDependencies(it.req.Dependency, i, byID)
		}
	}
	// On a follower the items' writes go to the leader together (see
	// WriteGroup); on the leader the group stays empty. Each worker
	// counts in it from its start until no item is left.
	g := new(WriteGroup)
	c.r = c.r.WithContext(withWriteGroup(c.r.Context(), g))
	var wg sync.WaitGroup
	var taken atomic.Int64 // items are taken in order: an item waits only on earlier ones
	for range min(batchWorkers, len(items)) {
		g.Start()
		wg.Go(func() {
			defer g.Finish()
			for i := int(taken.Add(1) - 1); i < len(items); i = int(taken.Add(1) - 1) {
				s.submitBatchItem(c, g, i, items)
			}
		})
	}
	wg.Wait()
	out := make([]structs.JobBatchItem, len(items))
	for i, it := range items {
		if it.err != nil {
			out[i] = s.batchItemError(c, i, it.err)
			continue
		}
		out[i].Job = it.job.Redacted(time.Time{}) // a new job: no share links, so no time
	}
	return &rawReply{contentType: "application/json", body: encodeBatchReply(out)}, nil
}

// encodeBatchReply encodes {"jobs": items} as encoding/json would (the
// jobs by appendJobJSON, as a single submission's reply).
func encodeBatchReply(items []structs.JobBatchItem) []byte {
	b := make([]byte, 0, 64+400*len(items))
	b = append(b, `{"jobs":[`...)
	for i := range items {
		if i > 0 {
			b = append(b, ',')
		}
		if j := items[i].Job; j != nil && items[i].Error == "" {
			start := len(b)
			b = append(b, `{"job":`...)
			if nb, ok := appendJobJSON(b, j); ok {
				b = append(nb, '}')
				continue
			}
			b = b[:start]
		}
		v, err := json.Marshal(&items[i])
		if err != nil {
			v = []byte(`{"status":500,"error":"internal error: encoding reply"}`)
		}
		b = append(b, v...)
	}
	return append(b, "]}\n"...)
}

// batchDependencies finds the items of the batch that dependency spec of
// item i names by id: earlier ones it waits for; itself or a later one
// is refused.
func batchDependencies(spec string, i int, byID map[string]int) ([]int, error) {
	refs, _, err := structs.ParseDependency(spec)
	if err != nil {
		return nil, nil // the single path refuses it, with its reason
	}
	var deps []int
	for _, r := range refs {
		j, ok := byID[r.Ref]
		switch {
		case !ok:
		case j >= i:
			return nil, &structs.FieldError{Object: "job", Field: "dependency",
				Msg: fmt.Sprintf("%q names item %d of this batch: an item may depend only on earlier items", r.Ref, j)}
		default:
			deps = append(deps, j)
		}
	}
	return deps, nil
}

// submitBatchItem admits item i of items (after the earlier items its
// dependency names) as a single submission is, audited as one.
func (s *Server) submitBatchItem(c *call, g *WriteGroup, i int, items []*batchItem) {
	it := items[i]
	defer close(it.done)
	ic := *c
	if it.err == nil && len(it.deps) > 0 {
		g.Block()
		it.err = waitBatchDependencies(c.r.Context(), it, items)
		g.Unblock()
	}
	if it.err == nil {
		// The replica's turn, after the dependencies: an item that holds
		// one never waits for another item.
		select {
		case s.admissions <- struct{}{}:
		default:
			g.Block()
			select {
			case s.admissions <- struct{}{}:
			case <-c.r.Context().Done():
				it.err = c.r.Context().Err()
			}
			g.Unblock()
		}
	}
	if it.err == nil {
		if ic.pending = s.pendingAudit(c, submitAudit); ic.pending != nil {
			ic.r = c.r.WithContext(context.WithValue(c.r.Context(), pendingAuditKey{}, ic.pending))
		}
		it.job, it.err = s.admitJob(&ic, it.req)
		<-s.admissions
	}
	s.auditBatchItem(&ic, it)
}

// waitBatchDependencies waits for the outcomes of the earlier items it's
// dependency names; one of them refused refuses it.
func waitBatchDependencies(ctx context.Context, it *batchItem, items []*batchItem) error {
	for _, j := range it.deps {
		select {
		case <-items[j].done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if items[j].err != nil {
			return &structs.FieldError{Object: "job", Field: "dependency",
				Msg: fmt.Sprintf("names item %d of this batch (%q), which was refused", j, items[j].req.ID)}
		}
	}
	return nil
}

// auditBatchItem records the outcome of an item as a single submission's
// audit event: folded into the job's entry when it could be (c.pending),
// else an event of its own; a refused item names the id it carried.
func (s *Server) auditBatchItem(c *call, it *batchItem) {
	if it.err != nil {
		if it.req != nil {
			c.object = it.req.ID
		}
		s.audit(c, submitAudit, nil, it.err)
		return
	}
	s.audit(c, submitAudit, it.job, nil)
}

// batchItemError is item i's outcome for its refusal err: what POST
// /v1/jobs would have answered, the fields' paths rooted at the batch.
func (s *Server) batchItemError(c *call, i int, err error) structs.JobBatchItem {
	code := statusOf(err)
	if code == http.StatusInternalServerError {
		s.log.Error("internal error", "method", c.r.Method, "path", c.r.URL.Path, "request_id", RequestID(c.r.Context()),
			"item", i, "error", err)
	}
	body := errorBody(err, code, true)
	body.Errors = slices.Clone(body.Errors) // a ValidationError's own list
	prefix := fmt.Sprintf("$.jobs[%d]", i)
	for k, pe := range body.Errors {
		if rest, ok := strings.CutPrefix(pe.Path, "$"); ok {
			body.Errors[k].Path = prefix + rest
		}
	}
	return structs.JobBatchItem{Status: code, Error: body.Error, Errors: body.Errors, Code: body.Code}
}
