package structs

import (
	"testing"
	"time"
)

// TestSlurmWalltime: ParseWalltime (the CLI's --walltime and --time, the
// portal's walltime field) reads every form Slurm's --time accepts and Go
// durations, and refuses the rest.
func TestSlurmWalltime(t *testing.T) {
	d := func(s string) Duration {
		v, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return Duration(v)
	}
	good := map[string]Duration{
		"90":           d("90m"),     // MM
		"5":            d("5m"),      // MM
		"30:15":        d("30m15s"),  // MM:SS
		"120:00":       d("2h"),      // MM:SS, minutes above 59
		"01:30:00":     d("1h30m"),   // HH:MM:SS
		"48:00:00":     d("48h"),     // HH:MM:SS, hours above 23
		"1-12":         d("36h"),     // D-HH
		"2-03:04":      d("51h4m"),   // D-HH:MM
		"1-00:00:01":   d("24h1s"),   // D-HH:MM:SS
		"0":            0,            // none
		"UNLIMITED":    0,            // none
		"infinite":     0,            // none
		"":             0,            // none
		"90m":          d("90m"),     // Go syntax
		"1h30m":        d("1h30m"),   // Go syntax
		" 10:00 ":      d("10m"),     // spaces around
		"41666-00":     d("999984h"), // the most days
		"999999:59:59": d("999999h59m59s"),
	}
	for in, want := range good {
		got, err := ParseWalltime(in)
		if err != nil || got != want {
			t.Errorf("ParseWalltime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"soon", "-5", "-5m", "1:2:3:4", "10:60", "1:60:00", "1-24", "1-12:60", "1-", "-12",
		"1--2", "1-2-3", ":30", "30:", "1.5", "+5", "1e3", "0x10", "5 m", "41667-00", "1000001:00:00", "99999999999999999999"} {
		if got, err := ParseWalltime(in); err == nil {
			t.Errorf("ParseWalltime(%q) = %v, want an error", in, got)
		}
	}
}
