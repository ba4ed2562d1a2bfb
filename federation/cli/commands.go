package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// cmd is a node of the command tree: a leaf runs, a group holds subs.
type cmd struct {
	name    string
	summary string
	run     runFunc
	subs    []*cmd
}

// commandTree is every command.
func commandTree() []*cmd {
	return []*cmd{
		{name: "submit", summary: "submit a job; prints its name and number", run: runSubmit},
		{name: "sbatch", summary: "submit a job script with #SBATCH directives, run in a container image (--image)", run: runSbatch},
		{name: "status", summary: "show a job (JOB is its name, number or id)", run: runStatus},
		{name: "jobs", summary: "list jobs (active ones unless --all or --state)", run: runJobs},
		{name: "cancel", summary: "cancel a job (terminates it once started)", run: runCancel},
		{name: "terminate", summary: "terminate a job", run: runTerminate},
		{name: "signal", summary: "send a signal to a running job's processes (-s USR1; --batch: the main process only)", run: runSignal},
		{name: "share", summary: "share links of a running interactive job: create (URL shown once), list, revoke", subs: shareTree()},
		{name: "why", summary: "explain a job's state: why it is pending, held or where it runs", run: runWhy},
		{name: "tasks", summary: "list an array job's tasks with their state and exit code (--state failed), or one task's output (--output N)", run: runTasks},
		{name: "script", summary: "print a job's script as submitted (flotilla sbatch; scontrol write batch_script)", run: runScript},
		{name: "output", summary: "print a job's output (the head's last lines, reported while it runs and kept when it ends); --follow as tail -f", run: runOutput},
		{name: "whoami", summary: "show who the API key belongs to", run: runWhoAmI},
		{name: "report", summary: "accounting of finished jobs, sacct-like (--summary: sums sreport-style); -o table|json|csv", run: runReport},
		{name: "events", summary: "job state changes you may see, from --since (an index); --follow streams them", run: runEvents},
		{name: "triggers", summary: "triggers: named job templates a service account fires", subs: triggerTree()},
		{name: "app", summary: "AppDefs: validate, register, sync", subs: appTree()},
		{name: "admin", summary: "administration", subs: adminTree()},
		{name: "cloud", summary: "EKS and GKE clusters: plan, up (joined to the hub), down", subs: cloudTree()},
	}
}

func adminTree() []*cmd {
	return []*cmd{
		{name: "tenants", summary: "tenants (payers)", subs: added("tenants", "a tenant", runTenantsList, runTenantsAdd, runTenantsDelete)},
		{name: "teams", summary: "teams of a tenant", subs: added("teams", "a team", runTeamsList, runTeamsAdd, runTeamsDelete)},
		{name: "users", summary: "users and their API keys", subs: append(added("users", "a user", runUsersList, runUsersAdd, runUsersDelete),
			&cmd{name: "key", summary: "API keys of a user", subs: []*cmd{
				{name: "create", summary: "create an API key (printed once)", run: runKeyCreate},
				{name: "list", summary: "list a user's API keys", run: runKeyList},
				{name: "revoke", summary: "revoke an API key", run: runKeyRevoke},
			}})},
		{name: "machine-types", summary: "machine types", subs: applied("machine types", "a machine type", "machine types from a JSON/YAML file",
			runMachineTypesApply, runMachineTypesList, runMachineTypesDelete)},
		{name: "clusters", summary: "federated clusters", subs: []*cmd{
			{name: "add", summary: "register a cluster; prints its agent key once", run: runClustersAdd},
			{name: "list", summary: "list clusters", run: runClustersList},
			{name: "rotate-key", summary: "issue a new agent key (the old one stops working)", run: runClustersRotateKey},
			{name: "token", summary: "issue a one-time bootstrap token for the cluster's agent (it carries the hub CA's pin)", run: runClustersToken},
			{name: "delete", summary: "delete a cluster", run: runClustersDelete},
			{name: "apps", summary: "the apps' images on a cluster as its agent reports them (ready, pulling, not runnable and why)", run: runClustersApps},
		}},
		{name: "apps", summary: "app catalog", subs: applied("apps", "an app", "an app from an AppDef or app file",
			runAppsApply, runAppsList, runAppsDelete)},
		{name: "limits", summary: "limits (jobs over them are held)", subs: applied("limits", "a limit", "limits from a JSON/YAML file",
			runLimitsApply, runLimitsList, runLimitsDelete)},
		{name: "burst-rules", summary: "burst rules", subs: applied("burst rules", "a burst rule", "burst rules from a JSON/YAML file",
			runBurstRulesApply, runBurstRulesList, runBurstRulesDelete)},
		{name: "vaults", summary: "data vaults of a tenant", subs: append(added("vaults", "a vault", runVaultsList, runVaultsAdd, runVaultsDelete),
			&cmd{name: "export", summary: "make a vault mountable from a namespace (a claim bound to its storage, read-only unless --read-write)", run: runVaultsExport},
			&cmd{name: "unexport", summary: "remove a vault's export from a namespace", run: runVaultsUnexport})},
		{name: "audit", summary: "the audit trail: who did what, when, from where (filters: --since --until --actor --object --action)", run: runAudit},
		{name: "service-accounts", summary: "service accounts: scoped, non-human callers", subs: serviceAccountTree()},
		{name: "webhooks", summary: "webhook allow-list, callback secrets, dead letters", subs: webhookTree()},
		{name: "replicas", summary: "list the hub's replicas (raft members, addresses, leader)", run: runReplicasList},
		{name: "replica", summary: "a hub replica", subs: []*cmd{
			{name: "remove", summary: "remove a replica from the hub cluster (its raft configuration)", run: runReplicaRemove},
		}},
	}
}

// runFunc runs a leaf command.
type runFunc = func(ctx context.Context, s *session, path []string, args []string) error

// added is the list, add (from flags) and delete commands of a kind of
// object: all (a plural) and one ("a tenant") name it.
func added(all, one string, list, add, del runFunc) []*cmd {
	return []*cmd{
		{name: "list", summary: "list " + all, run: list},
		{name: "add", summary: "create or replace " + one, run: add},
		{name: "delete", summary: "delete " + one, run: del},
	}
}

// applied is the apply (from a file: what it reads), list and delete
// commands of a kind of object (see added).
func applied(all, one, what string, apply, list, del runFunc) []*cmd {
	return []*cmd{
		{name: "apply", summary: "create or replace " + what, run: apply},
		{name: "list", summary: "list " + all, run: list},
		{name: "delete", summary: "delete " + one, run: del},
	}
}

// runCommand finds the command args name under cmds and runs it.
func runCommand(ctx context.Context, s *session, cmds []*cmd, path, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		groupUsage(s.stderr, path, cmds)
		if len(args) > 0 {
			return flag.ErrHelp
		}
		return usagef("%sa command is required", where(path))
	}
	i := slices.IndexFunc(cmds, func(c *cmd) bool { return c.name == args[0] })
	if i < 0 {
		return usagef("%sunknown command %q (try '%s help')", where(path), args[0], strings.Join(path, " "))
	}
	c := cmds[i]
	path = append(slices.Clip(path), c.name)
	if c.run == nil {
		return runCommand(ctx, s, c.subs, path, args[1:])
	}
	return c.run(ctx, s, path, args[1:])
}

// where prefixes a message with the command path after the program name,
// e.g. "admin users: ".
func where(path []string) string {
	if len(path) <= 1 {
		return ""
	}
	return strings.Join(path[1:], " ") + ": "
}

func groupUsage(w io.Writer, path []string, cmds []*cmd) {
	fmt.Fprintf(w, "usage: %s COMMAND [flags] [ARGS]\n\ncommands:\n", strings.Join(path, " "))
	printCommands(w, cmds)
}

func printCommands(w io.Writer, cmds []*cmd) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range cmds {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	_ = tw.Flush()
}

// leaf parses a leaf command's flags and positional arguments (flags may
// follow arguments), checks -o and the argument count, and returns the
// arguments. argsUsage names them for the usage line, e.g. "JOB".
func (s *session) leaf(fs *flag.FlagSet, path []string, argsUsage string, minArgs, maxArgs int, args []string) ([]string, error) {
	fs.Usage = func() { s.leafUsage(fs, path, argsUsage) }
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, err
	}
	if err != nil {
		return nil, usagef("%s%v", where(path), err)
	}
	if err := s.checkOutput(); err != nil {
		return nil, err
	}
	switch {
	case len(pos) < minArgs:
		fs.Usage()
		return nil, usagef("%smissing %s", where(path), argsUsage)
	case maxArgs >= 0 && len(pos) > maxArgs:
		return nil, usagef("%sunexpected argument %q", where(path), pos[maxArgs])
	}
	return pos, nil
}

// parseInterspersed parses flags anywhere among the arguments; after
// "--" everything is an argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// kvFlag collects repeated key=value flags.
type kvFlag struct {
	m     map[string]string
	order []string
}

func (f *kvFlag) String() string {
	if f == nil {
		return ""
	}
	parts := make([]string, 0, len(f.order))
	for _, k := range f.order {
		parts = append(parts, k+"="+f.m[k])
	}
	return strings.Join(parts, ",")
}

func (f *kvFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("%q: want key=value", s)
	}
	if f.m == nil {
		f.m = map[string]string{}
	}
	if _, dup := f.m[k]; dup {
		return fmt.Errorf("%q: key %q given twice", s, k)
	}
	f.m[k] = v
	f.order = append(f.order, k)
	return nil
}

// listFlag is a comma-separated list flag.
type listFlag []string

func (f *listFlag) String() string { return strings.Join(*f, ",") }

func (f *listFlag) Set(s string) error {
	*f = nil
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*f = append(*f, v)
		}
	}
	return nil
}

// idRangeFlag is a tenant's id range, MIN-MAX.
type idRangeFlag structs.IDRange

func (f *idRangeFlag) String() string {
	if f == nil || structs.IDRange(*f).IsZero() {
		return ""
	}
	return fmt.Sprintf("%d-%d", f.Min, f.Max)
}

func (f *idRangeFlag) Set(s string) error {
	lo, hi, ok := strings.Cut(s, "-")
	minID, err1 := strconv.Atoi(strings.TrimSpace(lo))
	maxID, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("want MIN-MAX, e.g. 10000-19999")
	}
	*f = idRangeFlag{Min: minID, Max: maxID}
	return nil
}
