package structs

import (
	"fmt"
	"time"
)

// RunTime is how long j has run: start to now while it runs (running
// true), its whole run once it ended, 0 before it started. squeue's TIME
// column, the CLI's jobs list and the portal's show it (SqueueTime).
func (j *Job) RunTime(now time.Time) (d time.Duration, running bool) {
	switch {
	case j.StartTime.IsZero():
		return 0, false
	case !j.EndTime.IsZero():
		return max(j.EndTime.Sub(j.StartTime), 0), false
	}
	return max(now.Sub(j.StartTime), 0), true
}

// SqueueTime writes d as squeue's TIME column does: M:SS, H:MM:SS or
// D-HH:MM:SS (a negative d as 0:00).
func SqueueTime(d time.Duration) string {
	s := max(int64(d/time.Second), 0)
	days, h, m, sec := s/86400, s%86400/3600, s%3600/60, s%60
	switch {
	case days > 0:
		return fmt.Sprintf("%d-%02d:%02d:%02d", days, h, m, sec)
	case h > 0:
		return fmt.Sprintf("%d:%02d:%02d", h, m, sec)
	}
	return fmt.Sprintf("%d:%02d", m, sec)
}
