package appdef

import "testing"

// TestLegacyParameterOrder: a command as hubs before the lossless catalog
// stored it (parameters with sorted keys, their registered order in
// "parameter_order") builds its positional arguments in that order.
func TestLegacyParameterOrder(t *testing.T) {
	raw := `{"path":"/r","parameters":{"a":{"type":"STR","value":"A"},"b":{"type":"STR","value":"B"},"c":{"type":"STR","value":"C"}},"parameter_order":["c","a"]}`
	c, err := ParseCommand("run", []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.Parameters {
		got = append(got, p.Key)
	}
	if want := "c a b"; join(got) != want {
		t.Fatalf("order %q, want %q", join(got), want)
	}
	c, err = ParseCommand("run", []byte(`{"path":"/r","parameters":{"b":{"type":"STR"},"a":{"type":"STR"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Parameters[0].Key != "b" {
		t.Fatalf("without parameter_order the document's order must stand, got %s first", c.Parameters[0].Key)
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}
