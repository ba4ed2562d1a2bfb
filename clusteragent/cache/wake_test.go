package cache

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// drained empties the Changed signal and reports whether one was there.
func drained(c *Cache) bool {
	select {
	case <-c.Changed():
		return true
	default:
		return false
	}
}

// TestWakeups: the scheduling loop is woken by what a cycle would see
// differently — a new pending pod, a pod bound elsewhere than assumed, a
// pod that finished — and not by a pod confirmed bound where it was
// assumed (a bind or a pre-placed create the API server stored).
func TestWakeups(t *testing.T) {
	c := New(nil, Options{})
	c.setNode(testNode("a"))
	c.setNode(testNode("b"))
	drained(c)

	// A pending single-pod gang: a wake-up.
	c.setPod(testPod(1, 0, 1, ""))
	if !drained(c) {
		t.Fatal("a new pending pod did not wake the loop")
	}
	_, gangs, _ := c.Snapshot()
	if len(gangs) != 1 {
		t.Fatalf("want 1 pending gang, got %d", len(gangs))
	}
	c.Assume(gangs[0].Pods, []string{"a"})
	drained(c)
	// Confirmed bound where assumed: no wake-up, and it counts once.
	c.setPod(testPod(1, 0, 1, "a"))
	if drained(c) {
		t.Error("a pod confirmed where it was assumed woke the loop")
	}
	if _, bound, assumed, pending := c.Counts(); bound != 1 || assumed != 0 || pending != 0 {
		t.Errorf("after the confirmation: bound %d assumed %d pending %d, want 1 0 0", bound, assumed, pending)
	}

	// Assumed on a, bound on b (another writer won): a wake-up.
	c.setPod(testPod(2, 0, 1, ""))
	_, gangs, _ = c.Snapshot()
	c.Assume(gangs[0].Pods, []string{"a"})
	drained(c)
	c.setPod(testPod(2, 0, 1, "b"))
	if !drained(c) {
		t.Error("a pod bound elsewhere than assumed did not wake the loop")
	}

	// A pre-placed gang confirmed where assumed: no wake-up.
	fresh := testPod(3, 0, 1, "")
	fresh.UID = ""
	g, err := NewGang([]*corev1.Pod{fresh}, SecretRef{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.AssumeNew(g, []string{"b"}) {
		t.Fatal("AssumeNew refused a new gang")
	}
	drained(c)
	c.setPod(testPod(3, 0, 1, "b"))
	if drained(c) {
		t.Error("a pre-placed pod confirmed where it was assumed woke the loop")
	}

	// A pod that finished frees its node: a wake-up, once.
	done := testPod(1, 0, 1, "a")
	done.Status.Phase = corev1.PodSucceeded
	c.setPod(done)
	if !drained(c) {
		t.Error("a finished pod did not wake the loop")
	}
	c.setPod(done)
	if drained(c) {
		t.Error("a finished pod seen again woke the loop")
	}
	if _, bound, _, _ := c.Counts(); bound != 2 {
		t.Errorf("bound %d after a pod finished, want 2", bound)
	}
}

// TestFinishedPodsOfASharedInformer: the agent's shared pod informer shows
// finished pods too (the cache's own leaves them out): a pending pod that
// finished unbound is no longer pending, and a finished pod the cache never
// had (listed at the start) neither counts nor wakes the loop.
func TestFinishedPodsOfASharedInformer(t *testing.T) {
	c := New(nil, Options{})
	c.setNode(testNode("a"))
	drained(c)
	old := testPod(7, 0, 1, "a")
	old.Status.Phase = corev1.PodFailed
	c.setPod(old)
	if drained(c) {
		t.Error("a finished pod the cache never had woke the loop")
	}
	c.setPod(testPod(8, 0, 1, ""))
	drained(c)
	failed := testPod(8, 0, 1, "")
	failed.Status.Phase = corev1.PodFailed
	c.setPod(failed)
	if !drained(c) {
		t.Error("a pending pod that finished unbound did not wake the loop")
	}
	if _, bound, assumed, pending := c.Counts(); bound != 0 || assumed != 0 || pending != 0 {
		t.Errorf("bound %d assumed %d pending %d, want 0 0 0", bound, assumed, pending)
	}
}
