package arraytask

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// reaper starts a worker's task processes and collects their exits
// without a thread blocked per task. A goroutine waiting for a child in
// wait4 or waitid is a thread in a blocking system call; with a slot's
// worth of them the Go runtime's monitor thread keeps finding processors
// held by system calls, retakes them and stays at its shortest polling
// interval (20 µs), which cost about a fifth of flotilla-init's own CPU
// per task of /bin/true. The reaper instead waits for SIGCHLD (and a slow
// tick, should one be lost) and then polls each started process with
// wait4(WNOHANG): only its own children, so processes started by
// anything else in the program are never reaped here.
type reaper struct {
	mu      sync.Mutex
	waiting map[int]chan syscall.WaitStatus
	sig     chan os.Signal
	stop    chan struct{}
	done    chan struct{}
}

// reaperTick bounds how late an exit is seen if its SIGCHLD was lost.
const reaperTick = 250 * time.Millisecond

func newReaper() *reaper {
	r := &reaper{waiting: map[int]chan syscall.WaitStatus{}, sig: make(chan os.Signal, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	signal.Notify(r.sig, syscall.SIGCHLD)
	go r.loop()
	return r
}

// close stops the reaper; processes still running are no longer waited
// for (their slots were told to stop first).
func (r *reaper) close() {
	signal.Stop(r.sig)
	close(r.stop)
	<-r.done
}

// start starts a process and returns its pid and the channel its exit
// status arrives on. The process is registered before the reaper can
// look for it, so an exit is never missed.
func (r *reaper) start(path string, argv []string, attr *syscall.ProcAttr) (int, <-chan syscall.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := syscall.ForkExec(path, argv, attr)
	if err != nil {
		return 0, nil, err
	}
	ch := make(chan syscall.WaitStatus, 1)
	r.waiting[pid] = ch
	return pid, ch, nil
}

func (r *reaper) loop() {
	defer close(r.done)
	t := time.NewTicker(reaperTick)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-r.sig:
		case <-t.C:
		}
		r.reap()
	}
}

// reap collects every registered process that has exited.
func (r *reaper) reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for pid, ch := range r.waiting {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue // seen at the next signal or tick
		}
		if got == 0 && err == nil {
			continue // still running
		}
		if err != nil {
			// Not our child any more (cannot happen: nothing else waits
			// for it): report it as killed rather than wait forever.
			ws = syscall.WaitStatus(syscall.SIGKILL)
		}
		ch <- ws
		delete(r.waiting, pid)
	}
}
