package structs

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxWalltime bounds a walltime as written by a user (the CLI's --time,
// the portal's form), as ParseDuration bounds HH:MM:SS (a million hours).
const maxWalltime = 1_000_000 * time.Hour

// walltimeForms names the forms ParseWalltime reads, for its messages.
const walltimeForms = "want MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS (Slurm's --time) or a duration such as 90m"

// ParseWalltime reads a walltime as Slurm's --time does — minutes, MM:SS,
// HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS, and UNLIMITED (or 0) for none —
// or in Go duration syntax ("90m", "1h30m"). "" is none. The CLI's
// --time and the portal's walltime field read it.
func ParseWalltime(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	switch strings.ToUpper(s) {
	case "", "UNLIMITED", "INFINITE":
		return 0, nil
	}
	if strings.ContainsAny(s, "hmsuµn") {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || d > maxWalltime {
			return 0, fmt.Errorf("%q: %s", s, walltimeForms)
		}
		return Duration(d), nil
	}
	d, ok := slurmTime(s)
	if !ok {
		return 0, fmt.Errorf("%q: %s", s, walltimeForms)
	}
	return Duration(d), nil
}

// slurmTime parses Slurm's time forms (see ParseWalltime).
func slurmTime(s string) (time.Duration, bool) {
	days, rest, hasDays := strings.Cut(s, "-")
	var nDays int64
	if !hasDays {
		rest = s
	} else {
		v, ok := timeField(days, int64(maxWalltime/(24*time.Hour)))
		if !ok {
			return 0, false
		}
		nDays = v
	}
	parts := strings.Split(rest, ":")
	if len(parts) > 3 {
		return 0, false
	}
	// units of each part, by form: without days the first part is minutes
	// (MM, MM:SS) unless there are three (HH:MM:SS); after D- it is hours.
	var units []time.Duration
	switch {
	case hasDays:
		units = []time.Duration{time.Hour, time.Minute, time.Second}[:len(parts)]
	case len(parts) == 3:
		units = []time.Duration{time.Hour, time.Minute, time.Second}
	default:
		units = []time.Duration{time.Minute, time.Second}[:len(parts)]
	}
	total := time.Duration(nDays) * 24 * time.Hour
	for i, p := range parts {
		// The leading part may be as large as it likes (90 minutes, 36
		// hours), except hours after a day count; the others stay below
		// their next unit.
		limit := int64(-1)
		switch {
		case i > 0:
			limit = 59
		case hasDays:
			limit = 23
		}
		v, ok := timeField(p, limit)
		if !ok || v > int64(maxWalltime/units[i]) {
			return 0, false
		}
		total += time.Duration(v) * units[i]
		if total > maxWalltime {
			return 0, false
		}
	}
	return total, true
}

// timeField parses one non-negative decimal field of at most limit (no
// limit when negative).
func timeField(s string, limit int64) (int64, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || (limit >= 0 && v > limit) || v > int64(maxWalltime/time.Second) {
		return 0, false
	}
	return v, true
}
