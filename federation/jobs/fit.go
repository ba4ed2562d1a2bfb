package jobs

import (
	"path"
	"slices"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// fit checks a job against its machine type and app — scale, the app's
// machines, its command and its parameters — and fills in the app's
// default walltime (Admit has filled in its default command).
func fit(j *structs.Job, mt *structs.MachineType, app *structs.App) error {
	lo, hi := max(mt.ScaleMin, 1), mt.ScaleMax
	if hi == 0 {
		hi = structs.MaxJobNodes
	}
	if j.Nodes < lo || j.Nodes > hi {
		return structs.Errorf(structs.ErrInvalid, "nodes %d outside the scale %d..%d of machine type %q",
			j.Nodes, lo, hi, mt.Name)
	}
	def := &app.AppDef
	if len(def.Commands) > 0 {
		if _, ok := def.Commands[j.Command]; !ok {
			return noCommand(app, j.Command)
		}
	}
	// A command's own scale_max and machines replace the app's (the
	// reference's rule; the portal and burst rules read them so too).
	if hi := def.ScaleMaxOf(j.Command); hi > 0 && j.Nodes > hi {
		return structs.Errorf(structs.ErrInvalid, "nodes %d above app %q scale_max %d", j.Nodes, app.Name, hi)
	}
	if !machineAllowed(def.MachinesOf(j.Command), mt.Name) {
		if len(def.Commands[j.Command].Machines) > 0 {
			return structs.Errorf(structs.ErrInvalid, "command %q of app %q does not run on machine type %q", j.Command, app.Name, mt.Name)
		}
		return structs.Errorf(structs.ErrInvalid, "app %q does not run on machine type %q", app.Name, mt.Name)
	}
	if len(def.Commands) > 0 {
		if err := checkParameters(j, def.Commands[j.Command]); err != nil {
			return err
		}
	} else if len(j.Parameters) > 0 {
		return structs.Errorf(structs.ErrInvalid, "app %q has no commands to take parameters", app.Name)
	}
	if j.Walltime == 0 && def.Walltime != "" {
		w, err := structs.ParseDuration(def.Walltime)
		if err != nil {
			return structs.Errorf(structs.ErrInvalid, "app %q: default walltime %q", app.Name, def.Walltime)
		}
		j.Walltime = w
	}
	return nil
}

// defaultCommand names the app's only command on a job that names none,
// before anything checks the command (a service account's scope), so a
// submission without one is judged as the job it becomes.
func defaultCommand(j *structs.Job, app *structs.App) {
	if j.Command != "" || len(app.AppDef.Commands) != 1 {
		return
	}
	for name := range app.AppDef.Commands {
		j.Command = name
	}
}

// AppRunsOn reports whether some command of an AppDef runs on machine
// type name (a command's own machines replace the app's).
func AppRunsOn(def *structs.AppDef, name string) bool {
	if len(def.Commands) == 0 {
		return machineAllowed(def.Machines, name)
	}
	for k := range def.Commands {
		if machineAllowed(def.MachinesOf(k), name) {
			return true
		}
	}
	return false
}

func machineAllowed(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return len(patterns) == 0
}

// noCommand is the error for a job whose command the app does not have:
// it names the app's commands, and for a job naming none (an app with
// several has no default) says to choose one.
func noCommand(app *structs.App, command string) error {
	names := make([]string, 0, len(app.AppDef.Commands))
	for name := range app.AppDef.Commands {
		names = append(names, name)
	}
	slices.Sort(names)
	if command == "" {
		return structs.Errorf(structs.ErrInvalid, "app %q has several commands (%s): name one (--command)",
			app.Name, strings.Join(names, ", "))
	}
	return structs.Errorf(structs.ErrInvalid, "app %q has no command %q (its commands: %s)",
		app.Name, command, strings.Join(names, ", "))
}
