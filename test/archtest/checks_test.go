package archtest

import (
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// The checks below are the guards' logic: each reads only its inputs and
// returns one message per violation, sorted, so that a test can run it on
// the repository and on a broken fixture alike. The rules they enforce are
// in archtest_test.go.

// under reports whether dir is pkg or below it.
func under(dir, pkg string) bool { return dir == pkg || strings.HasPrefix(dir, pkg+"/") }

// isHarness reports whether dir is a test harness package: its name ends
// in "test" (rafttest, hubtest), as the standard library's httptest.
func isHarness(dir string) bool { return strings.HasSuffix(path.Base(dir), "test") }

// isProduction reports whether a non-test file in dir can end up in a
// shipped binary: it is outside test/ and outside the harness packages.
func isProduction(dir string) bool { return !under(dir, "test") && !isHarness(dir) }

// isLibrary reports whether dir is a production package other than a
// command's main package.
func isLibrary(dir string) bool { return isProduction(dir) && !under(dir, "cmd") }

func isTestingPkg(p string) bool { return p == "testing" || strings.HasPrefix(p, "testing/") }

// isStd reports whether an import path belongs to the standard library
// (its first element has no dot).
func isStd(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	return !strings.Contains(first, ".")
}

// checkNoTestingImport: no production file imports testing.
func checkNoTestingImport(in *inputs) []string {
	var out []string
	for _, f := range in.files {
		if !isProduction(f.dir) {
			continue
		}
		for _, imp := range f.imports {
			if isTestingPkg(imp) {
				out = append(out, fmt.Sprintf("%s imports %s: test code belongs in _test.go files or a *test harness package", f.path, imp))
			}
		}
	}
	slices.Sort(out)
	return out
}

// checkPureImports: every pure package imports only what its allow-list
// names, and no allow-list names net/http or client-go.
func checkPureImports(in *inputs) []string {
	var out []string
	for pkg, allowed := range pureAllow {
		for _, a := range allowed {
			if isForbiddenInPure(a) {
				out = append(out, fmt.Sprintf("the allow-list of %s names %s: pure packages never import net/http or client-go", pkg, a))
			}
		}
	}
	missing := map[string]bool{}
	for _, f := range in.files {
		if !isPure(f.dir) {
			continue
		}
		allowed, ok := pureAllow[f.dir]
		if !ok {
			missing[f.dir] = true
			continue
		}
		for _, imp := range f.imports {
			if !slices.Contains(allowed, strings.TrimPrefix(imp, in.module+"/")) {
				out = append(out, fmt.Sprintf("%s imports %s, which the allow-list of %s does not name", f.path, imp, f.dir))
			}
		}
	}
	for dir := range missing {
		out = append(out, fmt.Sprintf("%s is a pure package without an allow-list in pureAllow", dir))
	}
	slices.Sort(out)
	return out
}

func isPure(dir string) bool {
	for _, p := range purePatterns {
		if base, ok := strings.CutSuffix(p, "/..."); ok {
			if under(dir, base) {
				return true
			}
		} else if dir == p {
			return true
		}
	}
	return false
}

func isForbiddenInPure(imp string) bool {
	return under(imp, "net/http") || under(imp, "k8s.io/client-go")
}

// checkAgentImports: clusteragent/... imports from federation/ only the
// packages agentMayImport names.
func checkAgentImports(in *inputs) []string {
	var out []string
	for _, f := range in.files {
		if !under(f.dir, "clusteragent") {
			continue
		}
		for _, imp := range f.imports {
			rel, ok := strings.CutPrefix(imp, in.module+"/")
			if ok && under(rel, "federation") && !slices.Contains(agentMayImport, rel) {
				out = append(out, fmt.Sprintf("%s imports %s: the agent may import from federation/ only %v", f.path, rel, agentMayImport))
			}
		}
	}
	slices.Sort(out)
	return out
}

// deps are the packages a command links outside the standard library,
// sorted, its own main package left out.
func deps(module, bin string, pkgs map[string][]string) []string {
	var out []string
	for p := range pkgs {
		if !isStd(p) && p != module+"/cmd/"+bin {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// checkGolden: every command's dependencies outside the standard library
// are its reviewed golden list.
func checkGolden(in *inputs) []string {
	var out []string
	for _, bin := range slices.Sorted(maps.Keys(in.bins)) {
		got := deps(in.module, bin, in.bins[bin])
		want, ok := in.golden[bin]
		if !ok {
			out = append(out, fmt.Sprintf("cmd/%s has no golden dependency list (testdata/deps/%s.txt); %s", bin, bin, regenerate))
			continue
		}
		added, removed := diffSorted(want, got)
		if len(added)+len(removed) > 0 {
			out = append(out, fmt.Sprintf("cmd/%s links other packages than its golden list: added %v, removed %v. "+
				"Review the change (it ships in the binary), then %s", bin, added, removed, regenerate))
		}
	}
	for bin := range in.golden {
		if _, ok := in.bins[bin]; !ok {
			out = append(out, fmt.Sprintf("golden dependency list %s.txt names no command; %s", bin, regenerate))
		}
	}
	slices.Sort(out)
	return out
}

const regenerate = "regenerate with: go test ./test/archtest -run TestArchitectureGuards -update"

// diffSorted returns what got has and want lacks, and the reverse; both
// inputs are sorted.
func diffSorted(want, got []string) (added, removed []string) {
	for _, g := range got {
		if _, found := slices.BinarySearch(want, g); !found {
			added = append(added, g)
		}
	}
	for _, w := range want {
		if _, found := slices.BinarySearch(got, w); !found {
			removed = append(removed, w)
		}
	}
	return added, removed
}

// checkForbiddenDeps: no command links a package forbiddenDeps bans it.
func checkForbiddenDeps(in *inputs) []string {
	var out []string
	for bin, banned := range forbiddenDeps {
		pkgs, ok := in.bins[bin]
		if !ok {
			out = append(out, fmt.Sprintf("cmd/%s, named by forbiddenDeps, does not exist", bin))
			continue
		}
		for _, b := range banned {
			var hits []string
			for p := range pkgs {
				if under(p, b) {
					hits = append(hits, p)
				}
			}
			if len(hits) == 0 {
				continue
			}
			slices.Sort(hits)
			out = append(out, fmt.Sprintf("cmd/%s links %s (%d packages, first %s, imported by %v)",
				bin, b, len(hits), hits[0], importers(pkgs, hits[0])))
		}
	}
	slices.Sort(out)
	return out
}

// importers are the packages in pkgs that import p, sorted.
func importers(pkgs map[string][]string, p string) []string {
	var out []string
	for q, imps := range pkgs {
		if slices.Contains(imps, p) {
			out = append(out, q)
		}
	}
	slices.Sort(out)
	return out
}

// checkNoTestingInBinaries: no command links the testing package, except
// through the third-party packages testingImporters lists (which must
// still need their entry).
func checkNoTestingInBinaries(in *inputs) []string {
	var out []string
	needed := map[string]bool{}
	for bin, pkgs := range in.bins {
		for p, imps := range pkgs {
			for _, imp := range imps {
				if !isTestingPkg(imp) {
					continue
				}
				if _, ok := testingImporters[p]; ok {
					needed[p] = true
					continue
				}
				out = append(out, fmt.Sprintf("cmd/%s links %s: %s imports it", bin, imp, p))
			}
		}
	}
	for p := range testingImporters {
		if !needed[p] {
			out = append(out, fmt.Sprintf("testingImporters lists %s, which no command links through it any more: remove the entry", p))
		}
	}
	slices.Sort(out)
	return out
}

// checkClockAndLogger: library packages take their clock and logger from
// their caller: no time.Now() or slog.Default() outside the exceptions
// clockLoggerExceptions lists (which must still need their entry).
func checkClockAndLogger(in *inputs) []string {
	var out []string
	for _, f := range in.files {
		if !isLibrary(f.dir) {
			continue
		}
		excused := clockLoggerExceptions[f.path]
		used := map[string]bool{}
		for _, c := range f.calls {
			if _, ok := excused[c.name]; ok {
				used[c.name] = true
				continue
			}
			out = append(out, fmt.Sprintf("%s:%d calls %s(): take a clock or logger from the caller", f.path, c.line, c.name))
		}
		for name := range excused {
			if !used[name] {
				out = append(out, fmt.Sprintf("clockLoggerExceptions excuses %s in %s, which no longer calls it: remove the entry", name, f.path))
			}
		}
	}
	slices.Sort(out)
	return out
}

// checkFileLength: production files stay within maxLines.
func checkFileLength(in *inputs) []string {
	var out []string
	for _, f := range in.files {
		if isProduction(f.dir) && f.lines > maxLines {
			out = append(out, fmt.Sprintf("%s has %d lines, more than %d: split it by domain", f.path, f.lines, maxLines))
		}
	}
	slices.Sort(out)
	return out
}

var backticked = regexp.MustCompile("`([^`]+)`")

// layoutPaths returns the paths the first column of the layout table in
// doc names (the first table after the "## Layout" heading).
func layoutPaths(doc string) []string {
	var paths []string
	inSection, inTable := false, false
	for line := range strings.Lines(doc) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "## "):
			if inTable {
				return paths
			}
			inSection = strings.HasPrefix(line, "## Layout")
		case !inSection:
		case strings.HasPrefix(line, "|"):
			inTable = true
			cells := strings.Split(line, "|")
			if len(cells) < 2 || strings.Trim(cells[1], " -:") == "" {
				continue // the separator row
			}
			for _, m := range backticked.FindAllStringSubmatch(cells[1], -1) {
				paths = append(paths, strings.TrimSuffix(m[1], "/"))
			}
		case inTable:
			return paths
		}
	}
	return paths
}

// checkLayout: every row of the layout table in docs/architecture.md names
// existing paths, and every package directory under layoutRoots is one of
// them or below one.
func checkLayout(in *inputs) []string {
	paths := layoutPaths(in.doc)
	if len(paths) == 0 {
		return []string{"docs/architecture.md has no layout table (a table after a \"## Layout\" heading)"}
	}
	var out []string
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join(in.root, filepath.FromSlash(p))); err != nil {
			out = append(out, fmt.Sprintf("the layout table in docs/architecture.md names %s, which does not exist", p))
		}
	}
	for _, dir := range in.dirs {
		if !slices.ContainsFunc(layoutRoots, func(r string) bool { return under(dir, r) }) {
			continue
		}
		if !slices.ContainsFunc(paths, func(p string) bool { return under(dir, p) }) {
			out = append(out, fmt.Sprintf("%s is not covered by a row of the layout table in docs/architecture.md", dir))
		}
	}
	slices.Sort(out)
	return out
}
