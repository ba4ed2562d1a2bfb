package arraytask

import (
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestReaperOwnChildrenOnly: the reaper reports its processes' exit
// statuses (a code, a signal) and never reaps a child something else in
// the program started and waits for (os/exec's Wait must not see ECHILD).
func TestReaperOwnChildrenOnly(t *testing.T) {
	r := newReaper()
	defer r.close()
	var others sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 1)
	others.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := exec.Command("/bin/true").Run(); err != nil {
				select {
				case errs <- err:
				default:
				}
				return
			}
		}
	})
	cases := map[string]struct {
		script string
		check  func(syscall.WaitStatus) bool
	}{
		"exit code": {"exit 7", func(ws syscall.WaitStatus) bool { return ws.Exited() && ws.ExitStatus() == 7 }},
		"success":   {"exit 0", func(ws syscall.WaitStatus) bool { return ws.Exited() && ws.ExitStatus() == 0 }},
		"signal":    {"kill -9 $$", func(ws syscall.WaitStatus) bool { return ws.Signaled() && ws.Signal() == syscall.SIGKILL }},
	}
	for name, c := range cases {
		for range 20 {
			_, exited, err := r.start("/bin/sh", []string{"sh", "-c", c.script}, &syscall.ProcAttr{})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			select {
			case ws := <-exited:
				if !c.check(ws) {
					t.Fatalf("%s: status %#x", name, ws)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s: no exit reported", name)
			}
		}
	}
	close(stop)
	others.Wait()
	select {
	case err := <-errs:
		t.Errorf("a child started with os/exec beside the reaper: %v", err)
	default:
	}
}
