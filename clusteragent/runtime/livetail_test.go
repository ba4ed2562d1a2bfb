package runtime

import (
	"strings"
	"testing"
)

func TestClipTail(t *testing.T) {
	long := strings.Repeat("x", 30) + "\n"
	tests := map[string]struct {
		log      string
		lines    int
		maxBytes int
		want     string
	}{
		"short log kept":                 {"a\nb\n", 5, 100, "a\nb\n"},
		"last lines":                     {"a\nb\nc\nd\n", 2, 100, "c\nd\n"},
		"last lines, no final newline":   {"a\nb\nc", 2, 100, "b\nc"},
		"all lines":                      {"a\nb\nc\n", 0, 100, "a\nb\nc\n"},
		"bytes cut at a line start":      {"aaaa\nbbbb\ncccc\n", 0, 12, "bbbb\ncccc\n"},
		"one line longer than the bound": {long, 1, 10, strings.Repeat("x", 9) + "\n"},
		"empty":                          {"", 3, 10, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := clipTail(tc.log, tc.lines, tc.maxBytes); got != tc.want {
				t.Errorf("clipTail(%q, %d, %d) = %q, want %q", tc.log, tc.lines, tc.maxBytes, got, tc.want)
			}
		})
	}
}
