package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocumentedCommandsExist: every flotilla command line the README and
// docs/ show names commands that exist (its help exits 0), so the docs
// cannot drift from the command tree.
func TestDocumentedCommandsExist(t *testing.T) {
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../../README.md")
	inline := regexp.MustCompile("`(flotilla [a-z][^`]*)`")
	block := regexp.MustCompile(`^(?:\$ )?(flotilla [a-z].*)$`)
	seen := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			var cmds []string
			for _, m := range inline.FindAllStringSubmatch(line, -1) {
				cmds = append(cmds, m[1])
			}
			if m := block.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
				cmds = append(cmds, m[1])
			}
			for _, c := range cmds {
				words := commandWords(c)
				if len(words) == 0 || words[0] == "version" { // flotilla version: cmd/flotilla's own
					continue
				}
				seen++
				r := runCLI(t, nil, append(words, "-h")...)
				if r.code != ExitOK {
					t.Errorf("%s:%d: %q: 'flotilla %s -h' exits %d: %s", filepath.Base(f), i+1, c, strings.Join(words, " "), r.code, r.stderr)
					continue
				}
				for _, fl := range documentedFlags(c) {
					if !strings.Contains(r.stderr, "  -"+fl+" ") && !strings.Contains(r.stderr, "  -"+fl+"\n") {
						t.Errorf("%s:%d: %q: 'flotilla %s' has no flag -%s", filepath.Base(f), i+1, c, strings.Join(words, " "), fl)
					}
				}
			}
		}
	}
	if seen < 20 {
		t.Fatalf("found only %d documented command lines: is the pattern wrong?", seen)
	}
}

// commandWords are the command words of a documented command line: the
// words after "flotilla" up to the first flag, placeholder (upper case),
// value or shell syntax.
func commandWords(line string) []string {
	var words []string
	for _, w := range strings.Fields(line)[1:] {
		if strings.ContainsAny(w, "-=/.|#'<[0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") && !isCommandName(w) {
			break
		}
		words = append(words, w)
	}
	return words
}

// isCommandName: a lowercase word with inner dashes (machine-types).
func isCommandName(w string) bool {
	return regexp.MustCompile(`^[a-z]+(-[a-z]+)*$`).MatchString(w)
}

// documentedFlags are the flag names a documented command line uses,
// up to shell syntax (a pipe or a comment); -h is every command's.
func documentedFlags(line string) []string {
	var out []string
	for _, w := range strings.Fields(line) {
		if w == "|" || w == "#" || w == "--" {
			break
		}
		if !strings.HasPrefix(w, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
		if name != "" && name != "h" && name != "help" {
			out = append(out, name)
		}
	}
	return out
}
