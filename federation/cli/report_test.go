package cli

import (
	"strings"
	"testing"
)

// TestReportFigure: the report's tables round figures to six decimals
// (the demo's report showed a cost of "0.00022192566800000003").
func TestReportFigure(t *testing.T) {
	for in, want := range map[float64]string{0.00022192566800000003: "0.000222", 0.2566940282311111: "0.256694",
		1.5: "1.5", 20: "20", 0: "0", 0.0000001: "0", 12345.6789: "12345.6789"} {
		if got := figure(in); got != want {
			t.Errorf("figure(%v) = %q, want %q", in, got, want)
		}
	}
}

// TestFieldsMultiLineValue: status's "Log tail" (several lines, some
// ending "\r\n" as sshd writes them) continues in the value column and the
// fields after it stay aligned with those before (on the demo they were
// not, and the tail's lines began at column 0).
func TestFieldsMultiLineValue(t *testing.T) {
	var out strings.Builder
	s := &session{stdout: &out, output: "table"}
	err := s.fields([][2]string{{"State", "RUNNING"}, {"Log tail", "one\r\ntwo\nthree"}, {"Tasks", "4 pending"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "State:    RUNNING\n" +
		"Log tail: one\n" +
		"          two\n" +
		"          three\n" +
		"Tasks:    4 pending\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}
