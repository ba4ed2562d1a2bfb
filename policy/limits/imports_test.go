package limits

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPureImports keeps the package pure: its non-test files import only
// federation/structs and standard packages without I/O or clocks.
func TestPureImports(t *testing.T) {
	allowed := map[string]bool{
		"github.com/flotilla-hpc/flotilla/federation/structs": true,
		"cmp": true, "path": true, "slices": true, "strconv": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !allowed[p] {
				t.Errorf("%s imports %q; allowed: %v", name, p, allowed)
			}
		}
	}
}
