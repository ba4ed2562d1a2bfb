package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// globalFlags are the flags every command takes (session.flagSet).
var globalFlags = map[string]bool{"hub": true, "api-key": true, "ca-file": true, "o": true, "timeout": true}

// leafUsage prints a leaf command's usage: its own flags, then the global
// ones, so that what the command does is not lost among them.
func (s *session) leafUsage(fs *flag.FlagSet, path []string, argsUsage string) {
	fmt.Fprintf(s.stderr, "usage: %s\n", strings.TrimSpace(strings.Join(path, " ")+" [flags] "+argsUsage))
	own := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	global := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	fs.VisitAll(func(f *flag.Flag) {
		into := own
		if globalFlags[f.Name] {
			into = global
		}
		into.Var(f.Value, f.Name, f.Usage)
		into.Lookup(f.Name).DefValue = f.DefValue
	})
	for _, part := range []struct {
		title string
		fs    *flag.FlagSet
	}{{"flags", own}, {"global flags (before or after the command)", global}} {
		n := 0
		part.fs.VisitAll(func(*flag.Flag) { n++ })
		if n == 0 {
			continue
		}
		fmt.Fprintf(s.stderr, "\n%s:\n", part.title)
		part.fs.SetOutput(s.stderr)
		part.fs.PrintDefaults()
		part.fs.SetOutput(io.Discard)
	}
}
