// Package archtest guards the architecture rules that code review would
// otherwise have to catch: one doc comment per package; pure decision
// packages with exact import allow-lists; no testing in production code or
// binaries; reviewed dependency lists per command; clock and logger passed
// in; short files; the layout table of docs/architecture.md in step with
// the directories. Each guard is a check function over its inputs
// (checks_test.go), run on the repository by TestArchitectureGuards and on
// the deliberately broken fixture in testdata/broken by
// TestGuardsCatchBrokenFixture, so each is shown to be able to fail.
package archtest

import (
	"encoding/json"
	"flag"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/deps/<command>.txt from go list (review the diff)")

// purePatterns are the decision cores: snapshot and time in, decision out.
// "/..." includes every package below.
var purePatterns = []string{
	"catalog-sync/appdef",
	"clusteragent/elastic",
	"clusteragent/scheduler",
	"federation/accounting",
	"federation/authz",
	"federation/jobs",
	"federation/placement",
	"federation/fsm",
	"federation/state",
	"federation/structs",
	"policy/...",
}

// pureAllow is, per pure package, everything its non-test files may
// import (module packages relative to the module): what they import
// today. Growing a list is a design decision; net/http and client-go are
// never allowed.
var pureAllow = map[string][]string{
	"clusteragent/scheduler": {"cmp", "math", "slices", "strconv", "strings", "time"},
	"clusteragent/elastic":   {"fmt", "time"},
	"federation/authz":       {"slices", "federation/structs", "policy/access"},
	"federation/accounting":  {"bytes", "cmp", "encoding/csv", "fmt", "slices", "strconv", "strings", "time", "federation/structs"},
	// catalog-sync/appdef: a job's parameter values are checked by the
	// catalog's own rules.
	// sync: a memo of parsed AppDef commands (keyed by their JSON).
	"federation/jobs": {"encoding/json", "errors", "path", "regexp", "slices", "strconv", "strings", "sync", "time",
		"catalog-sync/appdef", "federation/authz", "federation/fsm", "federation/structs", "policy/access", "policy/scope"},
	"catalog-sync/appdef": {"bytes", "encoding/base64", "encoding/json", "fmt", "math", "path", "regexp", "slices", "strconv", "strings",
		"federation/structs"},
	"federation/placement": {"container/heap", "errors", "iter", "slices", "strconv", "strings", "time",
		"federation/structs", "policy/access", "policy/burst", "policy/limits"},
	// hashicorp/raft for the FSM interface types; its metrics dependency
	// links net/http, which the FSM never calls. reflect: the command
	// registry finds a command's number by its Go type.
	"federation/fsm": {"bufio", "encoding/binary", "encoding/json", "errors", "fmt", "io", "math", "reflect", "slices", "strconv", "strings", "time",
		"federation/state", "federation/structs", "github.com/hashicorp/raft"},
	// sync: the archive of finished jobs, accounting records, audit
	// trail and jobs in play (the package's own persistent B-trees,
	// published with the memdb commit under a lock;
	// federation/state/archive.go, ptree.go).
	"federation/state": {"cmp", "context", "encoding/json", "errors", "fmt", "io", "maps", "math", "slices", "strconv", "strings", "sync",
		"sync/atomic", "time", "federation/structs", "github.com/hashicorp/go-memdb"},
	// crypto/rand and sync/atomic: NewJobID and NewAuditID, the makers of
	// job and audit event IDs (random, behind a counter of the process;
	// the Go client and the hub stamp them before a write; nothing
	// applying the log calls them).
	"federation/structs": {"bytes", "cmp", "crypto/rand", "crypto/sha256", "crypto/subtle", "encoding/hex", "encoding/json", "errors", "fmt",
		"maps", "math", "path", "slices", "strconv", "strings", "sync/atomic", "time"},
	"policy/access": {"cmp", "path", "slices", "strings", "federation/structs"},
	"policy/burst":  {"cmp", "path", "slices", "strconv", "time", "federation/structs"},
	"policy/limits": {"cmp", "path", "slices", "strconv", "federation/structs"},
	"policy/scope":  {"slices", "sort", "strconv", "strings", "time", "federation/structs"},
}

// agentMayImport is everything clusteragent/... may import from
// federation/: the domain types and the hub's client.
var agentMayImport = []string{"federation/structs", "federation/client"}

// forbiddenDeps are, per command, packages it must never link (prefixes):
// the in-pod init program stays small and talks to no Kubernetes API.
var forbiddenDeps = map[string][]string{
	"flotilla-init": {"k8s.io/client-go"},
}

// testingImporters are third-party packages that import testing from an
// ordinary file, so that it is linked into the commands that use them.
var testingImporters = map[string]string{
	"github.com/hashicorp/raft": "testing.go (MakeCluster and other helpers for raft's own tests) is a non-test file " +
		"of the package; no build tag excludes it. Only testing's package initialisation is linked.",
}

// clockLoggerExceptions excuse calls of time.Now or slog.Default in
// library files, by file and call, with the reason.
var clockLoggerExceptions = map[string]map[string]string{
	// A nil logger in the configuration means the process's default
	// logger: the demo, the benchmarks and the end-to-end suites start
	// agents without one and rely on it (nothing in them sets another).
	"clusteragent/authhook/hook.go":   {"slog.Default": nilLogger},
	"clusteragent/filer/manager.go":   {"slog.Default": nilLogger},
	"clusteragent/hubsync/hubsync.go": {"slog.Default": nilLogger},
	"federation/dispatch/dispatch.go": {"slog.Default": nilLogger},
	// The client's lean round trip: socket deadlines and its pooled
	// connections' idle age are wall-clock times.
	"federation/client/lean.go": {"time.Now": "net.Conn deadline, idle age of pooled connections"},
	// The in-pod init program (cmd/flotilla-init's library): socket
	// deadlines are wall-clock times by definition, and it logs how long
	// the real processes took.
	"clusteragent/runtime/initproc/control.go":   {"time.Now": "net.Conn deadline"},
	"clusteragent/runtime/initproc/sshserver.go": {"time.Now": "net.Conn deadline"},
	"clusteragent/runtime/initproc/run.go":       {"time.Now": "elapsed wall time of real processes, for the log"},
}

const nilLogger = "fallback when the caller passes no logger"

// maxLines bounds a production file.
const maxLines = 500

// layoutRoots are the directories whose every package the layout table of
// docs/architecture.md must cover.
var layoutRoots = []string{"federation", "clusteragent", "policy", "catalog-sync", "cmd", "test", "internal"}

// guards are the architecture rules. fixture is exactly what the guard
// reports on testdata/broken, a small tree that breaks each rule once (and
// holds cases each rule must let pass).
var guards = []struct {
	name    string
	check   func(*inputs) []string
	fixture []string
}{
	{"no testing in production packages", checkNoTestingImport, []string{
		"federation/hub/testcluster.go imports testing: test code belongs in _test.go files or a *test harness package",
	}},
	{"pure packages import only their allow-lists", checkPureImports, []string{
		"clusteragent/scheduler/fit.go imports net/http, which the allow-list of clusteragent/scheduler does not name",
		"policy/quota is a pure package without an allow-list in pureAllow",
	}},
	{"clusteragent imports only structs and client from federation", checkAgentImports, []string{
		"clusteragent/hubsync/sync.go imports federation/state: the agent may import from federation/ only [federation/structs federation/client]",
	}},
	{"commands link their golden dependency lists", checkGolden, []string{
		"cmd/flotilla-init links other packages than its golden list: added [k8s.io/client-go/kubernetes], removed [golang.org/x/crypto/ssh]. " +
			"Review the change (it ships in the binary), then " + regenerate,
		"golden dependency list flotilla-agent.txt names no command; " + regenerate,
	}},
	{"flotilla-init links no client-go", checkForbiddenDeps, []string{
		"cmd/flotilla-init links k8s.io/client-go (1 packages, first k8s.io/client-go/kubernetes, " +
			"imported by [github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc])",
	}},
	{"no slog.Default or time.Now in library packages", checkClockAndLogger, []string{
		"federation/dispatch/loop.go:12 calls time.Now(): take a clock or logger from the caller",
		"federation/dispatch/loop.go:13 calls slog.Default(): take a clock or logger from the caller",
	}},
	{"production files at most 500 lines", checkFileLength, []string{
		"federation/state/huge.go has 510 lines, more than 500: split it by domain",
	}},
	{"layout table matches the directories", checkLayout, []string{
		"federation/dispatch is not covered by a row of the layout table in docs/architecture.md",
		"the layout table in docs/architecture.md names federation/jobs, which does not exist",
	}},
}

// noTestingInBinaries is TestNoTestingInBinaries' guard.
var noTestingInBinaries = []string{
	"cmd/flotilla-hub links testing: github.com/flotilla-hpc/flotilla/federation/hub imports it",
}

// TestNoTestingInBinaries: go list -deps of every command under cmd/
// contains no testing package, except through testingImporters.
func TestNoTestingInBinaries(t *testing.T) {
	for _, v := range checkNoTestingInBinaries(loadRepo(t)) {
		t.Error(v)
	}
}

// TestArchitectureGuards runs every guard on the repository. With -update
// it first rewrites the golden dependency lists.
func TestArchitectureGuards(t *testing.T) {
	in := loadRepo(t)
	if *update {
		writeGolden(t, in)
	}
	for _, g := range guards {
		t.Run(g.name, func(t *testing.T) {
			for _, v := range g.check(in) {
				t.Error(v)
			}
		})
	}
}

// TestGuardsCatchBrokenFixture runs every guard on testdata/broken and
// checks it reports exactly the violations planted there.
func TestGuardsCatchBrokenFixture(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("testdata", "broken"))
	if err != nil {
		t.Fatal(err)
	}
	in := loadTree(t, root, modulePath(t, repoRoot(t)))
	in.bins = readGoList(t, filepath.Join(root, "golist"))
	in.golden = readGolden(t, filepath.Join(root, "golden"))
	check := func(name string, got, want []string) {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("violations on testdata/broken (-want +got):\n%s", diff)
			}
		})
	}
	for _, g := range guards {
		check(g.name, g.check(in), g.fixture)
	}
	check("no testing in binaries", checkNoTestingInBinaries(in), noTestingInBinaries)
}

// writeGolden rewrites testdata/deps from the commands' dependencies.
func writeGolden(t *testing.T, in *inputs) {
	dir := goldenDir(in.root)
	old, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	in.golden = map[string][]string{}
	for bin, pkgs := range in.bins {
		d := deps(in.module, bin, pkgs)
		if err := os.WriteFile(filepath.Join(dir, bin+".txt"), []byte(strings.Join(d, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		in.golden[bin] = d
	}
	t.Logf("rewrote %s: review the diff before committing", dir)
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
	for _, p := range purePatterns {
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
	// excused are further importers, by package suffix, of the raft
	// packages with the given prefix, each with its reason.
	excused := map[string]string{
		// TestCorruptLogStoreRefused damages raft-wal's metadata on purpose
		// to check flotilla-hub refuses it: it has to speak the format.
		"/test/crash": "github.com/hashicorp/raft-wal/",
	}
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
			excuse := false
			for pkg, prefix := range excused {
				excuse = excuse || strings.HasSuffix(path, pkg) && strings.HasPrefix(imp, prefix)
			}
			if !ok && !excuse && (imp == "github.com/hashicorp/raft" || strings.HasPrefix(imp, "github.com/hashicorp/raft-")) {
				t.Errorf("%s imports %s; use federation/raftnode", p.ImportPath, imp)
			}
		}
	}
	t.Logf("checked %d packages", n)
}
