package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// printJSON writes v as indented JSON.
func (s *session) printJSON(v any) error {
	enc := json.NewEncoder(s.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes rows under a header, aligned with tabwriter.
func (s *session) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(s.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// fields writes "Key: value" lines, aligned, skipping empty values. A
// value of several lines (a log tail) continues in the value column, so
// it neither breaks the alignment of the fields after it nor reads as
// fields of its own; carriage returns (sshd's "\r\n") are dropped.
func (s *session) fields(kv [][2]string) error {
	tw := tabwriter.NewWriter(s.stdout, 0, 4, 1, ' ', 0)
	for _, f := range kv {
		if f[1] != "" {
			v := strings.ReplaceAll(strings.ReplaceAll(f[1], "\r", ""), "\n", "\n\t")
			fmt.Fprintf(tw, "%s:\t%s\n", f[0], v)
		}
	}
	return tw.Flush()
}

// show prints v as JSON with -o json, else runs human.
func (s *session) show(v any, human func() error) error {
	if s.json() {
		return s.printJSON(v)
	}
	return human()
}

// deleted reports a successful delete.
func (s *session) deleted(what, name string, err error) error {
	if err != nil {
		return err
	}
	return s.show(&structs.Deleted{Deleted: name}, func() error {
		_, err := fmt.Fprintf(s.stdout, "%s %s deleted\n", what, name)
		return err
	})
}

// line prints one formatted line.
func (s *session) line(format string, args ...any) error {
	_, err := fmt.Fprintf(s.stdout, format+"\n", args...)
	return err
}

// orEmpty makes a nil list print as [] in JSON.
func orEmpty[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

// stamp formats a time for tables ("" when unset).
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// dash shows an empty value as "-".
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// yes shows true as "yes" and false as nothing.
func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}
