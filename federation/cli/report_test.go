package cli

import "testing"

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
