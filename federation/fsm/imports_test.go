package fsm

import (
	"go/parser"
	"go/token"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// TestImports keeps the FSM pure: it imports neither net/http nor the
// Kubernetes client. (hashicorp/raft is allowed; its metrics dependency
// links net/http, which the FSM never calls.) It also pins the method set
// federation/raftnode's StateMachine expects.
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var _ interface {
		ApplyCommands(index uint64, cmds [][]byte) []any
		Snapshot() (raft.FSMSnapshot, error)
		Restore(rc io.ReadCloser) error
	} = (*FSM)(nil)
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
			if path == "net/http" || strings.HasPrefix(path, "k8s.io/client-go") {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}
