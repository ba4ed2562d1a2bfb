package fsm

import "github.com/flotilla-hpc/flotilla/federation/structs"

// A submission's apply hands back the job as the store keeps it, shared
// with the store (state.WriteTxn.SubmitOwnedJob), wrapped as a shared
// result: a value with a Detach method that returns the caller's own
// copy. ApplyCommands detaches every result, so its callers get what they
// always got; ApplyShared leaves them shared, for raftnode, which
// detaches only the results a caller waits for (on the leader that
// proposed the entry) and drops the others: a follower never copies the
// jobs it applies.

// sharedResult is a job shared with the store. It is pointer-shaped: an
// interface holding it allocates nothing.
type sharedResult struct{ job *structs.Job }

// Detach returns a copy of the job, which its receiver owns.
func (s sharedResult) Detach() any { return s.job.Copy() }

// sharedJob wraps a stored job as a command's shared result.
func sharedJob(j *structs.Job, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return sharedResult{j}, nil
}

// detach replaces every shared result by its own copy.
func detach(results []any) []any {
	for i, r := range results {
		if s, ok := r.(sharedResult); ok {
			results[i] = s.Detach()
		}
	}
	return results
}
