// Package archtest guards the architecture rules that code review would
// otherwise have to catch: one doc comment per package, and pure decision
// packages free of I/O libraries.
package archtest

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// purePackages are decision cores: snapshot and time in, decision out.
var purePackages = []string{
	"clusteragent/scheduler",
	"federation/placement",
	"federation/fsm",
	"federation/state",
	"policy/...",
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repo root not found at %s", root)
	}
	return root
}

// TestPackageDocs checks that every package has exactly one package doc comment.
func TestPackageDocs(t *testing.T) {
	root := repoRoot(t)
	dirs := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "bin" || name == "testdata" || name == "tools" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			dirs[filepath.Dir(path)] = append(dirs[filepath.Dir(path)], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no packages found")
	}
	for dir, files := range dirs {
		var withDoc []string
		fset := token.NewFileSet()
		for _, f := range files {
			af, err := parser.ParseFile(fset, f, nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc != nil && strings.TrimSpace(af.Doc.Text()) != "" {
				withDoc = append(withDoc, filepath.Base(f))
			}
		}
		rel, _ := filepath.Rel(root, dir)
		if len(withDoc) != 1 {
			t.Errorf("package %s: want exactly one package doc comment, found %d %v", rel, len(withDoc), withDoc)
		}
	}
}

type listedPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// TestPureImports checks that the pure packages import neither net/http nor
// client-go (client-go not even transitively).
func TestPureImports(t *testing.T) {
	root := repoRoot(t)
	args := []string{"list", "-e", "-json=ImportPath,Imports,Deps"}
	for _, p := range purePackages {
		args = append(args, "./"+p)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		n++
		for _, imp := range p.Imports {
			if imp == "net/http" || strings.HasPrefix(imp, "net/http/") {
				t.Errorf("%s imports %s", p.ImportPath, imp)
			}
		}
		for _, dep := range p.Deps {
			if strings.HasPrefix(dep, "k8s.io/client-go") {
				t.Errorf("%s depends on %s", p.ImportPath, dep)
			}
		}
	}
	t.Logf("checked %d pure packages", n)
}

// TestRaftImports: only raftnode and fsm import hashicorp/raft (the rest
// use raftnode's aliases), so the consensus library stays behind one
// package. Tests count too.
func TestRaftImports(t *testing.T) {
	cmd := exec.Command("go", "list", "-e", "-test", "-json=ImportPath,Imports", "./...")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := []string{"/federation/raftnode", "/federation/fsm"}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		n++
		path, _, _ := strings.Cut(p.ImportPath, " ") // "p [p.test]" for test variants
		path = strings.TrimSuffix(path, "_test")
		ok := false
		for _, a := range allowed {
			ok = ok || strings.HasSuffix(path, a)
		}
		for _, imp := range p.Imports {
			if !ok && (imp == "github.com/hashicorp/raft" || strings.HasPrefix(imp, "github.com/hashicorp/raft-")) {
				t.Errorf("%s imports %s; use federation/raftnode", p.ImportPath, imp)
			}
		}
	}
	t.Logf("checked %d packages", n)
}
