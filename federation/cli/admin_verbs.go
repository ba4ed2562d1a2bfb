package cli

import (
	"context"
	"flag"

	"github.com/flotilla-hpc/flotilla/federation/client"
)

// The steps the admin commands share — list as a table, delete by name,
// report what was saved, resolve --tenant — once, so that a command says
// only what is its own: its flags, its columns, its client call.

// lister reads a list for listTable, with the flags its setup registered.
type lister[T any] func(*client.Client, context.Context) ([]T, error)

// listTable runs a list command: setup registers its flags and returns
// how to read the list; row makes each object's row under header (-o
// json prints the objects).
func listTable[T any](ctx context.Context, s *session, path, args []string, header []string,
	setup func(*flag.FlagSet) lister[T], row func(T) []string) error {
	var list lister[T]
	if err := s.noArgs(path, args, func(fs *flag.FlagSet) { list = setup(fs) }); err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	items, err := list(cl, ctx)
	if err != nil {
		return err
	}
	return showTable(s, items, header, row)
}

// showTable prints items as JSON with -o json ([] when there are none),
// else as a table: row makes each one's row under header.
func showTable[T any](s *session, items []T, header []string, row func(T) []string) error {
	return s.show(orEmpty(items), func() error {
		rows := make([][]string, len(items))
		for i, it := range items {
			rows[i] = row(it)
		}
		return s.table(header, rows)
	})
}

// all is listTable's setup of a list without flags.
func all[T any](list lister[T]) func(*flag.FlagSet) lister[T] {
	return func(*flag.FlagSet) lister[T] { return list }
}

// ofTenant is listTable's setup of a list of a tenant's objects: --tenant
// (help says what it does); with own, an empty one is the caller's own
// tenant (see tenantOr), else it is passed on as it is.
func ofTenant[T any](help string, own bool, list func(*client.Client, context.Context, string) ([]T, error)) func(*flag.FlagSet) lister[T] {
	return func(fs *flag.FlagSet) lister[T] {
		tenant := fs.String("tenant", "", help)
		return func(cl *client.Client, ctx context.Context) ([]T, error) {
			t := *tenant
			if own {
				var err error
				if t, err = tenantOr(ctx, cl, t); err != nil {
					return nil, err
				}
			}
			return list(cl, ctx, t)
		}
	}
}

// tenantFlag registers --tenant, the caller's own when empty (tenantOr).
func tenantFlag(tenant *string) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) { fs.StringVar(tenant, "tenant", "", "tenant (default: your own)") }
}

// leafClient parses a command's arguments (see leaf) and returns them and
// a client.
func (s *session) leafClient(fs *flag.FlagSet, path []string, usage string, minArgs, maxArgs int, args []string) ([]string, *client.Client, error) {
	pos, err := s.leaf(fs, path, usage, minArgs, maxArgs, args)
	if err != nil {
		return nil, nil, err
	}
	cl, err := s.client()
	return pos, cl, err
}

// namedClient parses "COMMAND [flags] NAME" (see nameArg) and returns the
// name and a client.
func (s *session) namedClient(path, args []string, setup func(*flag.FlagSet)) (string, *client.Client, error) {
	name, err := s.nameArg(path, args, setup)
	if err != nil {
		return "", nil, err
	}
	cl, err := s.client()
	return name, cl, err
}

// tenantClient returns a client and resolves *tenant (see tenantOr).
func (s *session) tenantClient(ctx context.Context, tenant *string) (*client.Client, error) {
	cl, err := s.client()
	if err != nil {
		return nil, err
	}
	*tenant, err = tenantOr(ctx, cl, *tenant)
	return cl, err
}

// deleteNamed runs the delete command of the object what named by the one
// argument.
func deleteNamed(ctx context.Context, s *session, path, args []string, what string,
	del func(context.Context, *client.Client, string) error) error {
	name, cl, err := s.namedClient(path, args, nil)
	if err != nil {
		return err
	}
	return s.deleted(what, name, del(ctx, cl, name))
}

// deleteInTenant runs the delete command of a tenant's object what, named
// by the one argument, of --tenant (default: the caller's own).
func deleteInTenant(ctx context.Context, s *session, path, args []string, what string,
	del func(context.Context, *client.Client, string, string) error) error {
	var tenant string
	name, err := s.nameArg(path, args, tenantFlag(&tenant))
	if err != nil {
		return err
	}
	cl, err := s.tenantClient(ctx, &tenant)
	if err != nil {
		return err
	}
	return s.deleted(what, tenant+"/"+name, del(ctx, cl, tenant, name))
}

// saved reports an object a command stored: as JSON with -o json, else
// the line say makes of it.
func saved[T any](s *session, out T, err error, say func(T) string) error {
	if err != nil {
		return err
	}
	return s.show(out, func() error { return s.line("%s", say(out)) })
}
