package jobs

import (
	"sync"

	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// checkParameters checks a job's parameter values against its AppDef
// command with the catalog's own rules (catalog-sync/appdef: each value a
// parameter of the command, of its type and in its range, a selection one
// of its values, an upload within its size, every required parameter
// given), so a bad value is refused at submit, naming the parameter,
// instead of failing the job on its cluster.
func checkParameters(j *structs.Job, cmd structs.Command) error {
	c, err := parsedCommand(&cmd, j.Command)
	if err != nil {
		return structs.Errorf(structs.ErrInvalid, "command %q: %v", j.Command, err)
	}
	return appdef.CheckValues(c, j.Parameters)
}

// commands memoizes appdef.CommandOf for stored commands: every
// submission of an app needs its command's full model, and parsing it
// from its JSON was the most expensive step of admission. Entries are
// keyed by the command's registered JSON (structs.Command.Raw) and name,
// so an app registered again with another definition misses and is
// parsed anew; nothing here can change an answer. The memo holds at most
// maxCommands entries and starts over when full.
var commands struct {
	sync.Mutex
	m map[string][]memoCommand // by Raw
}

type memoCommand struct {
	key string
	cmd *appdef.Command
}

const maxCommands = 512

// parsedCommand is appdef.CommandOf(c, key), memoized when c carries its
// registered JSON. The model it returns is shared: callers only read it.
func parsedCommand(c *structs.Command, key string) (*appdef.Command, error) {
	if len(c.Raw) == 0 {
		return appdef.CommandOf(c, key)
	}
	commands.Lock()
	for _, e := range commands.m[string(c.Raw)] {
		if e.key == key {
			commands.Unlock()
			return e.cmd, nil
		}
	}
	commands.Unlock()
	parsed, err := appdef.CommandOf(c, key)
	if err != nil {
		return nil, err
	}
	commands.Lock()
	defer commands.Unlock()
	if commands.m == nil || len(commands.m) >= maxCommands {
		commands.m = make(map[string][]memoCommand)
	}
	raw := string(c.Raw)
	commands.m[raw] = append(commands.m[raw], memoCommand{key: key, cmd: parsed})
	return parsed, nil
}
