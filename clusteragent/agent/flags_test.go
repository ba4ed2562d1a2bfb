package agent

import "testing"

func TestParseWeights(t *testing.T) {
	got, err := ParseWeights(" cpu=1, nvidia.com/gpu=8,memory=0.5 ")
	if err != nil || got["cpu"] != 1 || got["nvidia.com/gpu"] != 8 || got["memory"] != 0.5 || len(got) != 3 {
		t.Fatalf("ParseWeights = %v, %v", got, err)
	}
	for _, bad := range []string{"cpu", "cpu=x", "=1", "cpu=-1"} {
		if _, err := ParseWeights(bad); err == nil {
			t.Errorf("ParseWeights(%q) accepted", bad)
		}
	}
	if w, err := ParseWeights(""); w != nil || err != nil {
		t.Errorf("empty: %v %v", w, err)
	}
}

func TestParseTolerations(t *testing.T) {
	got, err := ParseTolerations("flotilla.io/pool=hpc:NoSchedule, dedicated:NoExecute")
	if err != nil || len(got) != 2 || got[0].Key != "flotilla.io/pool" || got[0].Value != "hpc" || got[0].Operator != "Equal" ||
		got[1].Key != "dedicated" || got[1].Operator != "Exists" || got[1].Effect != "NoExecute" {
		t.Fatalf("ParseTolerations = %+v, %v", got, err)
	}
	for _, bad := range []string{"x", "x=y", "x=y:Never", ":NoSchedule"} {
		if _, err := ParseTolerations(bad); err == nil {
			t.Errorf("ParseTolerations(%q) accepted", bad)
		}
	}
}
