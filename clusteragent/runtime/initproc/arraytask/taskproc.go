package arraytask

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Running tasks. A worker runs Slots long-lived slot goroutines; each
// takes the next granted task from the worker's queue, starts it with
// fork and exec (no shell, the command's path resolved once, no per-task
// goroutine or pipe), waits for its exit from the reaper (reaper.go: no
// thread blocked per task) and hands its Result back. What does not vary
// between tasks is built once per worker: the environment but the task's
// index and attempt (each slot rewrites those three entries of its own
// copy), the command line when it does not name %TASKID%.
// A task's output (stdout and stderr) goes to its slot's output file,
// created once and truncated before a task when the last one wrote to it;
// its last TailBytes are read back when the task ends. The tasks of a worker, queued or running, are
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

// queued is how many held tasks wait for a slot (not started, not killed).
func (t *procTable) queued() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, p := range t.m {
		if p.pid == 0 && !p.killed {
			n++
		}
	}
	return n
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
	argv    []string // the command when no argument names %TASKID% (nil: per task)
	env     []string // cfg.Env and the array's variables; then taskVars for the task
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
	env := append(cfg.Env[:len(cfg.Env):len(cfg.Env)], arrayEnv(cfg.Spec, cfg.JobID)...)
	l := &launcher{cfg: cfg, env: env[:len(env):len(env)], devnull: dn, procs: procs, reaper: newReaper()}
	if !strings.Contains(cfg.Command[0], TaskIDParam) {
		l.path, l.pathErr = resolve(cfg.Command[0])
	}
	if !slices.ContainsFunc(cfg.Command, func(a string) bool { return strings.Contains(a, TaskIDParam) }) {
		l.argv = cfg.Command
	}
	return l, nil
}

// taskVars is how many variables of TaskEnv vary by task (they come
// last in a slot's environment).
const taskVars = 3

// arrayEnv is the part of TaskEnv every task of the array shares.
func arrayEnv(spec structs.ArraySpec, jobID string) []string {
	return TaskEnv(spec, jobID, 0, 0)[taskVars:]
}

// setTaskEnv writes a task's own variables (TaskEnv's first taskVars,
// the same strings) over the last taskVars entries of env.
func setTaskEnv(env []string, index, attempt int) {
	i := strconv.Itoa(index)
	v := env[len(env)-taskVars:]
	v[0] = "FLOTILLA_ARRAY_TASK_ID=" + i
	v[1] = "FLOTILLA_ARRAY_TASK_ATTEMPT=" + strconv.Itoa(attempt)
	v[2] = "SLURM_ARRAY_TASK_ID=" + i
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

// slot is what one slot reuses from task to task.
type slot struct {
	out   *os.File
	dirty bool     // out holds the last task's output: truncate it first
	env   []string // the launcher's env and taskVars entries of its own
	files []uintptr
	attr  syscall.ProcAttr
	sys   syscall.SysProcAttr
}

// run runs slot i: tasks from queue until it is closed, results to out.
// With cpus its tasks run on those CPUs only (bindThread) and are told
// so (TaskCPUsVar); a binding the kernel refuses is logged and the slot
// runs unbound.
func (l *launcher) run(i int, cpus []int, out *os.File, queue <-chan Lease, results chan<- Result) {
	defer out.Close()
	env := l.env
	if cpus != nil {
		if err := bindThread(cpus); err != nil {
			l.cfg.Log.Warn("slot not bound to its CPUs: its tasks run unbound", "slot", i, "err", err)
		} else {
			env = append(env, TaskCPUsVar+"="+FormatCPUList(cpus))
		}
	}
	s := &slot{out: out, env: append(env, make([]string, taskVars)...),
		files: []uintptr{l.devnull.Fd(), out.Fd(), out.Fd()}, sys: syscall.SysProcAttr{Setpgid: true}}
	s.attr = syscall.ProcAttr{Dir: l.cfg.Dir, Env: s.env, Files: s.files, Sys: &s.sys}
	for ls := range queue {
		results <- l.runOne(ls, s)
	}
}

// runOne runs one attempt in slot s and returns its end.
func (l *launcher) runOne(ls Lease, s *slot) Result {
	r := Result{Lease: ls}
	if l.procs.killedBeforeStart(ls) {
		r.Exit = 128 + int(syscall.SIGKILL)
		return r
	}
	out := s.out
	argv := l.argv
	if argv == nil {
		argv = TaskArgv(l.cfg.Command, ls.Index)
	}
	path, err := l.path, l.pathErr
	if path == "" && err == nil {
		path, err = resolve(argv[0])
	}
	if err == nil && s.dirty {
		if err = out.Truncate(0); err == nil {
			s.dirty = false
		}
	}
	var (
		pid    int
		exited <-chan syscall.WaitStatus
	)
	start := l.cfg.Now()
	if err == nil {
		setTaskEnv(s.env, ls.Index, ls.Attempt)
		pid, exited, err = l.reaper.start(path, argv, &s.attr)
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
	tail, size := readTail(out, TailBytes)
	s.dirty = size != 0
	if r.Exit == ExitWalltime {
		tail += "\n[flotilla: task walltime exceeded]"
	}
	r.Tail = tail
	return r
}

// readTail returns the last n bytes of f, as valid UTF-8, and f's size
// (-1 when it cannot be read).
func readTail(f *os.File, n int64) (string, int64) {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return "", -1
	}
	if st.Size == 0 {
		return "", 0
	}
	off := max(st.Size-n, 0)
	b := make([]byte, st.Size-off)
	k, err := f.ReadAt(b, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", st.Size
	}
	return strings.ToValidUTF8(string(b[:k]), "?"), st.Size
}
