package arraytask

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Running tasks. A worker runs Slots long-lived slot goroutines; each
// takes the next granted task from the worker's queue, starts it with
// fork and exec (no shell, the command's path resolved once, no per-task
// goroutine or pipe), waits for its exit from the reaper (reaper.go: no
// thread blocked per task) and hands its Result back.
// A task's output (stdout and stderr) goes to its slot's output file,
// created once and truncated for every task; its last TailBytes are read
// back when the task ends. The tasks of a worker, queued or running, are
// one table (procs) so a kill finds them wherever they are.

// TailBytes bounds the output kept of an attempt (the last bytes of its
// stdout and stderr together).
const TailBytes = 4096

// failTail bounds the tail of a failed attempt written in the journal.
const failTail = 512

// proc is a task granted to this worker: queued (pid 0) or running.
type proc struct {
	pid      int
	killed   bool // canceled, not this worker's any more, or fenced
	fenced   bool // killed by the fence: reported lost
	walltime bool // killed at its task walltime
}

// procTable is every task a worker holds.
type procTable struct {
	mu sync.Mutex
	m  map[Lease]*proc
}

func (t *procTable) add(l Lease) {
	t.mu.Lock()
	t.m[l] = &proc{}
	t.mu.Unlock()
}

func (t *procTable) remove(l Lease) (fenced bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.m[l]; p != nil {
		fenced = p.fenced
	}
	delete(t.m, l)
	return fenced
}

func (t *procTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

func (t *procTable) leases() []Lease {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Lease, 0, len(t.m))
	for l := range t.m {
		out = append(out, l)
	}
	return out
}

// kill kills a held task: a running one's process group at once, a
// queued one when its slot takes it (it does not start).
func (t *procTable) kill(l Lease, fenced bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.m[l]
	if p == nil || p.killed {
		return false
	}
	p.killed, p.fenced = true, fenced
	if p.pid > 0 {
		syscall.Kill(-p.pid, syscall.SIGKILL)
	}
	return true
}

// started records the process of a task; it kills it at once when the
// task was killed while it started. It reports whether the task may run.
func (t *procTable) started(l Lease, pid int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.m[l]
	if p == nil {
		syscall.Kill(-pid, syscall.SIGKILL)
		return false
	}
	p.pid = pid
	if p.killed {
		syscall.Kill(-pid, syscall.SIGKILL)
		return false
	}
	return true
}

// killed reports whether a queued task was killed (it is not started).
func (t *procTable) killedBeforeStart(l Lease) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.m[l]
	return p == nil || p.killed
}

func (t *procTable) expireWalltime(l Lease) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.m[l]; p != nil && p.pid > 0 && !p.killed {
		p.walltime = true
		syscall.Kill(-p.pid, syscall.SIGKILL)
	}
}

func (t *procTable) wasWalltime(l Lease) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.m[l]
	return p != nil && p.walltime
}

// launcher starts the tasks of one worker.
type launcher struct {
	cfg     WorkerConfig
	path    string // argv[0] resolved once ("" when it names %TASKID%)
	pathErr error
	env     []string // cfg.Env, clipped
	devnull *os.File
	procs   *procTable
	reaper  *reaper
}

func newLauncher(cfg WorkerConfig, procs *procTable) (*launcher, error) {
	if len(cfg.Command) == 0 {
		return nil, errors.New("array worker: no command")
	}
	dn, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	l := &launcher{cfg: cfg, env: cfg.Env[:len(cfg.Env):len(cfg.Env)], devnull: dn, procs: procs, reaper: newReaper()}
	if !strings.Contains(cfg.Command[0], TaskIDParam) {
		l.path, l.pathErr = resolve(cfg.Command[0])
	}
	return l, nil
}

func (l *launcher) close() {
	l.reaper.close()
	l.devnull.Close()
}

// resolve finds a command as exec.Command does: a name with a slash is
// used as it is, another is looked up in PATH.
func resolve(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	return exec.LookPath(name)
}

// slotOutput opens slot i's output file in dir (append mode: a task's
// writes land at its start after the truncation, whatever its offset).
func slotOutput(dir string, i int) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, "slot-"+strconv.Itoa(i)+".out"), os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
}

// run runs slot i: tasks from queue until it is closed, results to out.
func (l *launcher) run(i int, out *os.File, queue <-chan Lease, results chan<- Result) {
	defer out.Close()
	for ls := range queue {
		results <- l.runOne(ls, out)
	}
}

// runOne runs one attempt and returns its end.
func (l *launcher) runOne(ls Lease, out *os.File) Result {
	r := Result{Lease: ls}
	if l.procs.killedBeforeStart(ls) {
		r.Exit = 128 + int(syscall.SIGKILL)
		return r
	}
	argv := TaskArgv(l.cfg.Command, ls.Index)
	path, err := l.path, l.pathErr
	if path == "" && err == nil {
		path, err = resolve(argv[0])
	}
	if err == nil {
		err = out.Truncate(0)
	}
	var (
		pid    int
		exited <-chan syscall.WaitStatus
	)
	start := l.cfg.Now()
	if err == nil {
		env := append(l.env, TaskEnv(l.cfg.Spec, l.cfg.JobID, ls.Index, ls.Attempt)...)
		pid, exited, err = l.reaper.start(path, argv, &syscall.ProcAttr{Env: env, Files: []uintptr{l.devnull.Fd(), out.Fd(), out.Fd()},
			Sys: &syscall.SysProcAttr{Setpgid: true}})
	}
	if err != nil {
		r.Exit = 127
		r.Tail = fmt.Sprintf("flotilla: cannot start %s: %v", argv[0], err)
		return r
	}
	if !l.procs.started(ls, pid) {
		<-exited
		r.Exit = 128 + int(syscall.SIGKILL)
		return r
	}
	var timer *time.Timer
	if l.cfg.TaskWalltime > 0 {
		timer = time.AfterFunc(l.cfg.TaskWalltime, func() { l.procs.expireWalltime(ls) })
	}
	ws := <-exited
	if timer != nil {
		timer.Stop()
	}
	r.Seconds = l.cfg.Now().Sub(start).Seconds()
	switch {
	case l.procs.wasWalltime(ls):
		r.Exit = ExitWalltime
	case ws.Signaled():
		r.Exit = 128 + int(ws.Signal())
	default:
		r.Exit = ws.ExitStatus()
	}
	tail := readTail(out, TailBytes)
	if r.Exit == ExitWalltime {
		tail += "\n[flotilla: task walltime exceeded]"
	}
	r.Tail = tail
	return r
}

// readTail returns the last n bytes of f, as valid UTF-8.
func readTail(f *os.File, n int64) string {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return ""
	}
	off := max(fi.Size()-n, 0)
	b := make([]byte, fi.Size()-off)
	k, err := f.ReadAt(b, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	return strings.ToValidUTF8(string(b[:k]), "?")
}
