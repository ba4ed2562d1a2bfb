package placement

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPureImports keeps placement pure: its non-test files import only the
// domain types, the policy evaluators and standard packages without I/O.
func TestPureImports(t *testing.T) {
	allowed := map[string]bool{
		"github.com/flotilla-hpc/flotilla/federation/structs": true,
		"github.com/flotilla-hpc/flotilla/policy/access":      true,
		"github.com/flotilla-hpc/flotilla/policy/burst":       true,
		"github.com/flotilla-hpc/flotilla/policy/limits":      true,
		"container/heap": true, "errors": true, "iter": true, "slices": true, "strconv": true,
		"strings": true, "time": true,
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
