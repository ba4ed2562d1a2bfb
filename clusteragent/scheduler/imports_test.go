package scheduler

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPureImports keeps the scheduler a pure function: its non-test files
// import only standard packages without I/O, so neither net/http nor
// client-go nor k8s.io/api can creep in, directly or through a dependency.
func TestPureImports(t *testing.T) {
	allowed := map[string]bool{
		"cmp": true, "math": true, "slices": true, "strconv": true, "strings": true, "time": true,
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
			path, _ := strconv.Unquote(imp.Path.Value)
			if !allowed[path] {
				t.Errorf("%s imports %q; the scheduler may import only %v", name, path, allowed)
			}
		}
	}
}
