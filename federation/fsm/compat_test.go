package fsm

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

// The files in testdata/compat were written by the hub as of commit
// c70fe6e (before the command registry): a log of 400 random entries
// (buildLog with seed 42) as the raft log holds it, the outcome of every
// command (ok, or its error kind), and the snapshot of the state after
// it. They are the log format's contract with replicas in the field:
// never regenerate them; a change that makes them fail changes what an
// existing log or snapshot means.
const compatDir = "testdata/compat/"

// readCompatLog reads log-v1.txt: per line, an index and the entry's
// commands in base64.
func readCompatLog(t *testing.T) []entry {
	t.Helper()
	f, err := os.Open(compatDir + "log-v1.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var log []entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		index, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		e := entry{index: index}
		for _, s := range fields[1:] {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				t.Fatalf("entry %d: %v", index, err)
			}
			e.cmds = append(e.cmds, b)
		}
		log = append(log, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return log
}

func outcome(r any) string {
	err, ok := r.(error)
	switch {
	case !ok:
		return "ok"
	case structs.KindOf(err) == nil:
		return "error"
	}
	return "error " + structs.KindOf(err).Error()
}

// TestOldLogStillApplies replays the log an earlier hub wrote: every
// command decodes and applies as it did then (same outcome, same kind of
// error), the state ends byte for byte as it did, the log holds every
// command type this hub knew then, and the old snapshot restores to the
// same bytes.
func TestOldLogStillApplies(t *testing.T) {
	log := readCompatLog(t)
	want, err := os.ReadFile(compatDir + "log-v1.outcomes")
	if err != nil {
		t.Fatal(err)
	}
	f := newFSM(t)
	var got strings.Builder
	types := map[CommandType]bool{}
	for _, e := range log {
		for i, r := range f.ApplyCommands(e.index, e.cmds) {
			got.WriteString(outcome(r) + "\n")
			if _, isErr := r.(error); !isErr {
				types[CommandType(e.cmds[i][1])] = true
			}
		}
	}
	if diff := cmp.Diff(string(want), got.String()); diff != "" {
		t.Fatalf("outcomes of the old log changed (-then +now):\n%s", diff)
	}
	for ct := CommandType(1); ct <= 30; ct++ {
		if !types[ct] {
			t.Errorf("the old log never applied command type %d (%s)", ct, ct)
		}
	}
	snap, err := os.ReadFile(compatDir + "log-v1.snapshot")
	if err != nil {
		t.Fatal(err)
	}
	if now := withoutDerived(snapshotBytes(t, f)); !bytes.Equal(legacyAppDefs(t, snap), now) {
		t.Fatalf("the old log leads to another state (-then +now):\n%s", cmp.Diff(string(legacyAppDefs(t, snap)), string(now)))
	}
	if again := snapshotBytes(t, restored(t, snap)); !bytes.Equal(snap, again) {
		t.Fatalf("the old snapshot restores to another state (-then +now):\n%s", cmp.Diff(string(snap), string(again)))
	}
}

// derivedTables are tables an old log fills now that it did not then:
// the job event log and its webhook deliveries (issue 22), derived from
// the job changes the log holds; and the meta rows of their indexes and
// counters.
var derivedTables = []string{"events", "webhook_deliveries"}

// withoutDerived drops the sections of derivedTables and their meta rows
// from a snapshot, leaving what the old log recorded.
func withoutDerived(snap []byte) []byte {
	var out [][]byte
	lines := bytes.Split(snap, []byte("\n"))
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		var h struct {
			Table string `json:"table"`
			Count int    `json:"count"`
			Key   string `json:"key"`
		}
		_ = json.Unmarshal(line, &h)
		if slices.Contains(derivedTables, h.Table) && h.Count > 0 {
			i += h.Count
			continue
		}
		switch h.Key {
		case "events", "webhook_deliveries", "seq:events", "seq:deliveries":
			continue
		}
		if h.Table == "meta" {
			// The meta section's count includes the rows dropped above.
			n := 0
			for _, l := range lines[i+1 : i+1+h.Count] {
				var m struct{ Key string }
				_ = json.Unmarshal(l, &m)
				if m.Key != "events" && m.Key != "webhook_deliveries" && m.Key != "seq:events" && m.Key != "seq:deliveries" {
					n++
				}
			}
			line = []byte(fmt.Sprintf(`{"table":"meta","count":%d}`, n))
		}
		out = append(out, line)
	}
	return bytes.Join(out, []byte("\n"))
}

// legacyParamOrder is the one field of the old snapshot's encoding that the
// lossless catalog (issue 13) no longer writes for an app built from a log
// entry: a command's "parameter_order", which old hubs wrote beside a
// parameters object whose keys they sorted. An AppDef is now stored as
// registered, so the order is the parameters object's own. The old
// snapshot still restores byte for byte (the field is kept, and honoured
// by catalog-sync/appdef, see TestLegacyParameterOrder).
var legacyParamOrder = regexp.MustCompile(`"parameters":(\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}),"parameter_order":(\[[^\]]*\])`)

// legacyAppDefs drops "parameter_order" from the old snapshot's apps after
// checking that it only repeats the order of the parameters object beside
// it: the meaning of every stored command is unchanged.
func legacyAppDefs(t *testing.T, snap []byte) []byte {
	t.Helper()
	return legacyParamOrder.ReplaceAllFunc(snap, func(m []byte) []byte {
		sub := legacyParamOrder.FindSubmatch(m)
		var order []string
		if err := json.Unmarshal(sub[2], &order); err != nil {
			t.Fatalf("parameter_order %s: %v", sub[2], err)
		}
		dec := json.NewDecoder(bytes.NewReader(sub[1]))
		var keys []string
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, tok.(string))
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(keys, order) {
			t.Fatalf("old snapshot: parameter_order %q differs from the parameters' order %q: dropping it would change a command", order, keys)
		}
		return append([]byte(`"parameters":`), sub[1]...)
	})
}
