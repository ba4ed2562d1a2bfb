package initproc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestSignalAtDueTime: the signal goes TIME before the end of the
// walltime counted from the earlier of the pods' start and
// flotilla-init's own.
func TestSignalAtDueTime(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	at, err := structs.ParseSignalAt("USR1@10")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		pods, started, want time.Time
	}{
		"pods' start unknown":  {time.Time{}, t0, t0.Add(10 * time.Second)},
		"pods started earlier": {t0.Add(-3 * time.Second), t0, t0.Add(7 * time.Second)},
		"pods' start later":    {t0.Add(5 * time.Second), t0, t0.Add(10 * time.Second)}, // another node's clock: the earlier wins
	}
	for name, tc := range cases {
		if got := signalAtDue(at, 20*time.Second, tc.pods, tc.started); !got.Equal(tc.want) {
			t.Errorf("%s: due %v, want %v", name, got, tc.want)
		}
	}
}

// TestSignalAtOnce runs a command that traps USR1 and a signaler on a
// fake clock: nothing before the signal is due, the pods' start the agent
// writes brings it forward, it is delivered once and logged, and a
// restarted flotilla-init (a new signaler on the same run directory) does
// not send it again. A worker does not send a B: signal, yet records it.
func TestSignalAtOnce(t *testing.T) {
	d := t.TempDir()
	marker := filepath.Join(d, "usr1")
	cmd := exec.Command(Shell, "-c", `trap 'echo usr1 >> $0' USR1; touch $0.ready; while :; do sleep 0.05; done`, marker)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	waitFor(t, 30*time.Second, "the command did not start", func() bool { _, err := os.Stat(marker + ".ready"); return err == nil })

	t0 := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	var now atomic.Int64
	now.Store(t0.UnixNano())
	var out syncBuffer
	cfg := Config{Role: RoleHead, RunDir: filepath.Join(d, "run"), SignalAt: "B:USR1@10", Walltime: 20 * time.Second,
		JobStartFile: filepath.Join(d, "job-start"), Started: t0,
		Now: func() time.Time { return time.Unix(0, now.Load()).UTC() }, Stdout: &out}
	if err := os.MkdirAll(cfg.RunDir, 0o700); err != nil {
		t.Fatal(err)
	}
	var main atomic.Int64
	main.Store(int64(cmd.Process.Pid))
	s := newSignaler(&cfg, &main, nil)
	if s == nil || s.timed == nil {
		t.Fatal("no signaler for a signal before the walltime")
	}
	const line = "flotilla: signal USR1 delivered (10 s before the walltime)\n"

	now.Store(t0.Add(9 * time.Second).UnixNano())
	s.deliverDue()
	if out.String() != "" {
		t.Fatalf("sent before it was due (the pods' start unknown: due at +10 s):\n%s", out.String())
	}
	// The agent writes the pods' start, 3 s before flotilla-init's.
	if err := os.WriteFile(cfg.JobStartFile, []byte(t0.Add(-3*time.Second).Format(time.RFC3339)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.deliverDue()
	if got := strings.Count(out.String(), line); got != 1 {
		t.Fatalf("job log has the delivery %d times, want once:\n%s", got, out.String())
	}
	waitFor(t, 10*time.Second, "USR1 did not reach the command", func() bool { return countLines(marker, "usr1") == 1 })

	now.Store(t0.Add(15 * time.Second).UnixNano())
	s.deliverDue()
	again := newSignaler(&cfg, &main, nil) // a restarted flotilla-init
	again.deliverDue()
	if got := strings.Count(out.String(), line); got != 1 {
		t.Errorf("sent again (%d deliveries):\n%s", got, out.String())
	}
	if b, err := os.ReadFile(filepath.Join(cfg.RunDir, signalAtStateFile)); err != nil || string(b) != "B:USR1@10\n" {
		t.Errorf("state file %q, %v", b, err)
	}

	// A worker: B: is the head's main process only.
	wcfg := cfg
	wcfg.Role, wcfg.RunDir = RoleWorker, filepath.Join(d, "worker-run")
	var wout syncBuffer
	wcfg.Stdout = &wout
	if err := os.MkdirAll(wcfg.RunDir, 0o700); err != nil {
		t.Fatal(err)
	}
	w := newSignaler(&wcfg, new(atomic.Int64), nil)
	w.deliverDue()
	if wout.String() != "" {
		t.Errorf("a worker sent a B: signal:\n%s", wout.String())
	}
	if _, err := os.Stat(filepath.Join(wcfg.RunDir, signalAtStateFile)); err != nil {
		t.Errorf("the worker did not record the signal as done: %v", err)
	}
	if countLines(marker, "usr1") != 1 {
		t.Errorf("the command took USR1 %d times, want once", countLines(marker, "usr1"))
	}
}

// TestSignalAtConfig: a request that does not read, or one without the
// walltime or a clock, is a usage error; none asks for no timer.
func TestSignalAtConfig(t *testing.T) {
	base := Config{Role: RoleWorker, NodesFile: "n", KeysDir: "k", RunDir: "r", SSHD: SSHDAuto, SSHPort: 2222, ControlPort: 2223,
		PeerTimeout: time.Second, HeadTimeout: time.Second, Linger: time.Second}
	if err := base.Validate(); err != nil {
		t.Fatalf("base config: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"bad request":  func(c *Config) { c.SignalAt, c.Walltime, c.Now = "USR9", time.Minute, time.Now },
		"no walltime":  func(c *Config) { c.SignalAt, c.Now = "USR1", time.Now },
		"no clock":     func(c *Config) { c.SignalAt, c.Walltime = "USR1", time.Minute },
		"zero seconds": func(c *Config) { c.SignalAt, c.Walltime, c.Now = "USR1@0", time.Minute, time.Now },
	} {
		c := base
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if newTimedSignal(&base) != nil {
		t.Error("a timer without a request")
	}
}
