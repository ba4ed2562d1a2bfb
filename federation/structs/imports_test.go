package structs

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps the domain types free of I/O: no network, files, raft or store.
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == "os" || strings.HasPrefix(path, "net") || strings.HasPrefix(path, "k8s.io/") ||
				strings.HasPrefix(path, "github.com/hashicorp/") {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}
