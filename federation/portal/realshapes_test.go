package portal

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestFormRealShapes: parameter shapes public JARVICE AppDefs use, as
// the form shows and checks them (the shape, not any file).
func TestFormRealShapes(t *testing.T) {
	raw := func(s string) []byte { return []byte(s) }
	cmd := structs.Command{Parameters: map[string]structs.Parameter{
		// image inputs whose filter lists alternatives with "|"
		"img": {Name: "Picture", Type: structs.ParamFile, Filter: "*.png|*.jpg", Required: true},
		// a filter written as a bare suffix
		"cfg": {Name: "Settings", Type: structs.ParamFile, Filter: ".json"},
		// a selection whose first value is a blank, meaning "none"
		"second": {Name: "Second step", Type: structs.ParamSelection, Values: []string{" ", "mesh", "refine"}, Required: true},
		// an optional selection without a default: the job gets its first value
		"solver": {Name: "Solver", Type: structs.ParamSelection, Values: []string{"fast", "exact"}},
		// a required CONST whose value is empty (a flag without argument)
		"-s": {Name: "-s", Type: structs.ParamConst, Value: raw(`""`), Required: true},
		// a selection with a default among its values
		"order": {Name: "Order", Type: structs.ParamSelection, Values: []string{"1", "2", "3"}, Value: raw(`"2"`)},
	}}
	fields := buildFields(cmd, nil)
	shown := map[string]string{}
	for _, f := range fields {
		shown[f.Key] = f.Value
	}
	if d := cmp.Diff(map[string]string{"img": "", "cfg": "", "second": " ", "solver": "fast", "order": "2", "-s": ""}, shown); d != "" {
		t.Errorf("values the form shows (-want +got):\n%s", d)
	}
	cases := map[string]struct {
		values map[string]string
		want   map[string]string
	}{
		"either alternative": {values: map[string]string{"img": "/data/in/cat.jpg", "cfg": "/data/run.json", "second": " "}, want: map[string]string{}},
		"first alternative":  {values: map[string]string{"img": "/data/in/cat.png", "second": "mesh"}, want: map[string]string{}},
		"no alternative": {values: map[string]string{"img": "/data/cat.gif", "cfg": "/data/run.yaml", "second": " "},
			want: map[string]string{"img": "Picture must match *.png|*.jpg.", "cfg": "Settings must match .json."}},
		"unlisted selection": {values: map[string]string{"img": "a.png", "second": "", "solver": "slow"},
			want: map[string]string{"second": "Second step: choose one of the listed values.", "solver": "Solver: choose one of the listed values."}},
	}
	for name, c := range cases {
		fs := buildFields(cmd, c.values)
		validateFields(fs)
		got := map[string]string{}
		for _, f := range fs {
			if f.Error != "" {
				got[f.Key] = f.Error
			}
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("%s: messages (-want +got):\n%s", name, d)
		}
	}
}
