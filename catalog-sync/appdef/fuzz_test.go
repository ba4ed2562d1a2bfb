package appdef_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// FuzzAppDef feeds the decoder and validator arbitrary documents (seed
// corpus in testdata/fuzz/FuzzAppDef): they never panic, a valid AppDef
// stays valid, a stored AppDef encodes back to the document it was
// decoded from, and its commands' command lines build or fail cleanly.
func FuzzAppDef(f *testing.F) {
	f.Add([]byte(`{"name":"x","commands":{"r":{"path":"/r","parameters":{"n":{"type":"INT","value":"1","min":"0","max":2}}}}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		def, res := appdef.Parse(doc)
		var s structs.AppDef
		if err := json.Unmarshal(doc, &s); err == nil && len(s.Raw) > 0 {
			back, err := json.Marshal(s)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			// encoding/json escapes <, > and & in what MarshalJSON returns
			var compact, want bytes.Buffer
			if err := json.Compact(&compact, doc); err != nil {
				t.Fatal(err)
			}
			json.HTMLEscape(&want, compact.Bytes())
			if !bytes.Equal(back, want.Bytes()) {
				t.Fatalf("round trip changed the document:\n%s\n%s", want.Bytes(), back)
			}
		}
		if res.Err() != nil || def == nil {
			return
		}
		if _, res2 := appdef.Parse(doc); res2.Err() != nil {
			t.Fatalf("valid, then invalid: %v", res2.Err())
		}
		for _, c := range def.Commands {
			l, err := appdef.Build(c, nil, appdef.Vars{Cores: 2, Nodes: 1})
			if err == nil && (len(l.Argv) == 0 || l.Argv[0] != c.Path) {
				t.Fatalf("argv %q does not start with the path %q", l.Argv, c.Path)
			}
		}
	})
}
