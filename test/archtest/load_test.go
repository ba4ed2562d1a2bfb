package archtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// inputs is what the guards read from one tree: the repository, or a
// deliberately broken fixture under testdata/.
type inputs struct {
	root   string   // absolute
	module string   // the module path, "github.com/flotilla-hpc/flotilla"
	files  []goFile // every non-test .go file
	dirs   []string // every directory holding a .go file (tests too)
	doc    string   // docs/architecture.md
	// bins are the commands under cmd/ by name, each mapping every package
	// it links (its main package included) to that package's imports.
	bins map[string]map[string][]string
	// golden are the reviewed dependency lists by command name.
	golden map[string][]string
}

// goFile is one non-test Go file.
type goFile struct {
	path    string   // slash-separated, relative to the tree's root
	dir     string   // path's directory
	lines   int      // as wc -l counts them
	imports []string // import paths
	calls   []call   // calls of watched package-level functions (watchedCalls)
}

// call is a call of a package-level function, e.g. time.Now().
type call struct {
	name string // "time.Now"
	line int
}

// watchedCalls are the package-level functions whose calls goFile records,
// by import path.
var watchedCalls = map[string][]string{
	"time":     {"Now"},
	"log/slog": {"Default"},
}

// skipDir reports whether the walk skips a directory: hidden ones, build
// output, the separate tool modules and test fixtures.
func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || name == "bin" || name == "tools" || name == "testdata" || name == "node_modules"
}

// loadTree reads the Go files, directories and layout document of the tree
// at root; bins and golden are left to the caller.
func loadTree(t testing.TB, root, module string) *inputs {
	t.Helper()
	in := &inputs{root: root, module: module}
	dirs := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		dirs[path.Dir(rel)] = true
		if strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		f, err := parseGoFile(p, rel)
		if err != nil {
			return err
		}
		in.files = append(in.files, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for d := range dirs {
		in.dirs = append(in.dirs, d)
	}
	slices.Sort(in.dirs)
	if doc, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md")); err == nil {
		in.doc = string(doc)
	}
	return in
}

func parseGoFile(abs, rel string) (goFile, error) {
	src, err := os.ReadFile(abs)
	if err != nil {
		return goFile{}, err
	}
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, abs, src, parser.SkipObjectResolution)
	if err != nil {
		return goFile{}, err
	}
	f := goFile{path: rel, dir: path.Dir(rel), lines: bytes.Count(src, []byte("\n"))}
	if len(src) > 0 && src[len(src)-1] != '\n' {
		f.lines++
	}
	local := map[string]string{} // name in this file → watched import path
	for _, imp := range af.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		f.imports = append(f.imports, p)
		if _, ok := watchedCalls[p]; ok {
			name := path.Base(p)
			if imp.Name != nil {
				name = imp.Name.Name
			}
			local[name] = p
		}
	}
	ast.Inspect(af, func(n ast.Node) bool {
		ce, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := ce.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		id, ok := sel.X.(*ast.Ident)
		if !ok {
			return true
		}
		// A local variable named like the package would shadow it; the
		// guards accept that blind spot rather than type-check the tree.
		if p, ok := local[id.Name]; ok && slices.Contains(watchedCalls[p], sel.Sel.Name) {
			f.calls = append(f.calls, call{name: path.Base(p) + "." + sel.Sel.Name, line: fset.Position(ce.Pos()).Line})
		}
		return true
	})
	return f, nil
}

// readGolden reads every <command>.txt in dir: one import path a line.
func readGolden(t testing.TB, dir string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	names, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(name), ".txt")] = strings.Fields(string(b))
	}
	return out
}

// readGoList reads every <command>.txt in dir, each in the form
// `go list -deps -f '{{.ImportPath}}: {{join .Imports " "}}'` prints: the
// fixture's stand-in for running go list.
func readGoList(t testing.TB, dir string) map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string][]string{}
	names, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		pkgs := map[string][]string{}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			pkg, imports, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				t.Fatalf("%s: line %q is not `package: imports...`", name, sc.Text())
			}
			pkgs[pkg] = strings.Fields(imports)
		}
		out[strings.TrimSuffix(filepath.Base(name), ".txt")] = pkgs
	}
	return out
}

var (
	repoOnce sync.Once
	repo     *inputs
	repoErr  string
)

// loadRepo loads the repository once per test binary: its files, and its
// commands' dependencies from go list (built as `make build` does:
// linux/amd64, CGO_ENABLED=0).
func loadRepo(t *testing.T) *inputs {
	t.Helper()
	repoOnce.Do(func() {
		root := repoRoot(t)
		in := loadTree(t, root, modulePath(t, root))
		bins, err := listCommands(root, in.module)
		if err != nil {
			repoErr = err.Error()
			return
		}
		in.bins = bins
		in.golden = readGolden(t, goldenDir(root))
		repo = in
	})
	if repo == nil {
		t.Fatalf("loading the repository: %s", repoErr)
	}
	return repo
}

func goldenDir(root string) string {
	return filepath.Join(root, "test", "archtest", "testdata", "deps")
}

func modulePath(t testing.TB, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if m, ok := strings.CutPrefix(line, "module "); ok {
			return strings.TrimSpace(m)
		}
	}
	t.Fatal("go.mod names no module")
	return ""
}

// listCommands runs go list over ./cmd/... and returns, for every command,
// each package it links with that package's imports.
func listCommands(root, module string) (map[string]map[string][]string, error) {
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Name,Imports,Deps", "./cmd/...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v: %s", err, stderr.String())
	}
	type listed struct {
		ImportPath, Name string
		Imports, Deps    []string
	}
	imports := map[string][]string{}
	var mains []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			return nil, err
		}
		imports[p.ImportPath] = p.Imports
		if p.Name == "main" && strings.HasPrefix(p.ImportPath, module+"/cmd/") {
			mains = append(mains, p)
		}
	}
	bins := map[string]map[string][]string{}
	for _, m := range mains {
		pkgs := map[string][]string{m.ImportPath: m.Imports}
		for _, d := range m.Deps {
			pkgs[d] = imports[d]
		}
		bins[path.Base(m.ImportPath)] = pkgs
	}
	if len(bins) == 0 {
		return nil, fmt.Errorf("go list found no command under %s/cmd", module)
	}
	return bins, nil
}
