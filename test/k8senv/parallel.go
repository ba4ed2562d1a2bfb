package k8senv

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// StartAll brings up one control plane per options at once (a start takes
// seconds of mostly waiting) and stops them at cleanup, like Start. Call
// it from the test's goroutine: a failed start fails the test here, after
// every start has ended, and never from a goroutine of its own.
func StartAll(t testing.TB, opts ...Options) []*Env {
	t.Helper()
	envs := make([]*Env, len(opts))
	errs := make([]error, len(opts))
	for i := range opts {
		if opts[i].Dir == "" {
			opts[i].Dir = t.TempDir()
		}
	}
	var wg sync.WaitGroup
	for i, o := range opts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			envs[i], errs[i] = StartEnv(context.Background(), o)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("k8senv: start %q: %w", o.Name, errs[i])
			}
		}()
	}
	wg.Wait()
	for _, env := range envs {
		if env == nil {
			continue
		}
		t.Cleanup(func() {
			if t.Failed() {
				env.dumpLogs(t)
			}
			env.Stop()
		})
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return envs
}
