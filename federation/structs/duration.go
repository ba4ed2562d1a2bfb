package structs

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that reads and writes JSON as a string: either
// Go syntax ("90m", "1h30m") or JARVICE walltime syntax ("HH:MM:SS").
// It is written in Go syntax.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String returns Go duration syntax.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a quoted Go duration.
func (d Duration) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, time.Duration(d).String()), nil
}

// UnmarshalJSON reads a quoted Go or HH:MM:SS duration; "" is zero.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return invalidf("duration %s: want a string", b)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDuration parses Go duration syntax or HH:MM:SS ("" is zero).
func ParseDuration(s string) (Duration, error) {
	if s == "" {
		return 0, nil
	}
	if !strings.Contains(s, ":") {
		v, err := time.ParseDuration(s)
		if err != nil {
			return 0, invalidf("duration %q", s)
		}
		return Duration(v), nil
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, invalidf("duration %q: want HH:MM:SS", s)
	}
	var n [3]int64
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil || v < 0 || (i > 0 && v > 59) || (i == 0 && v > 1_000_000) {
			return 0, invalidf("duration %q: want HH:MM:SS", s)
		}
		n[i] = v
	}
	return Duration(time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute +
		time.Duration(n[2])*time.Second), nil
}
