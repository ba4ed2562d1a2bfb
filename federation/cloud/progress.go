package cloud

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress prints one line per step and per change of the cloud's
// operation status, each with the time since the step began.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	now   func() time.Time
	total int
}

// stepProgress is the progress of one step.
type stepProgress struct {
	p      *progress
	n      int
	title  string
	start  time.Time
	status string
}

func (p *progress) begin(n int, title string) *stepProgress {
	s := &stepProgress{p: p, n: n, title: title, start: p.now()}
	p.line(s, "started")
	return s
}

func (p *progress) line(s *stepProgress, what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "[%d/%d] %s: %s (%s)\n", s.n, p.total, s.title, what, elapsed(p.now().Sub(s.start)))
}

// status reports the cloud's operation status; a repeated status prints
// nothing.
func (s *stepProgress) Status(status string) {
	if status == "" || status == s.status {
		return
	}
	s.status = status
	s.p.line(s, status)
}

func (s *stepProgress) done(what string) { s.p.line(s, what) }

// elapsed formats d as 1m05s, rounded to the second.
func elapsed(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}
