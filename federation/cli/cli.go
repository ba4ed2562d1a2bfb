// Package cli is the flotilla command-line tool: users submit, inspect and
// stop jobs and ask why one is pending; administrators manage tenants,
// teams, users, machine types, clusters, apps, limits, burst rules and
// vaults. It talks to the hub through federation/client.
//
// Run is the whole program, so tests drive it in-process:
//
//	flotilla [--hub URL[,URL...]] [--api-key KEY] [-o table|json] COMMAND [flags] [ARGS]
//
// Global flags may also follow the command. --hub defaults to $FLOTILLA_HUB
// and --api-key to $FLOTILLA_API_KEY. Exit codes: 0 success, 1 the hub
// refused or failed (the hub's message is printed), 2 usage error or bad
// input (nothing is sent), 3 not found, 4 unauthorized or forbidden, 5 the
// hub could not be reached (network, DNS, TLS: no reply came).
package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
)

// Exit codes of Run.
const (
	ExitOK       = 0
	ExitError    = 1 // the hub replied that it refused or failed
	ExitUsage    = 2 // bad command line or input; nothing was sent
	ExitNotFound = 3
	ExitDenied   = 4 // unauthorized or forbidden
	// ExitUnreachable: no hub URL replied within --timeout (connection
	// refused, DNS, network, TLS handshake or an untrusted certificate).
	// A write may still have reached the hub before its connection broke:
	// a script retries it (submissions keep their id) or looks.
	ExitUnreachable = 5
)

// Environment variables read by Run.
const (
	EnvHub    = "FLOTILLA_HUB"
	EnvAPIKey = "FLOTILLA_API_KEY"
	EnvCAFile = "FLOTILLA_CA_FILE"
)

// DefaultTimeout bounds one command's calls, retries included.
const DefaultTimeout = 30 * time.Second

// session is one invocation: output streams and global settings.
type session struct {
	stdout, stderr io.Writer
	stdin          io.Reader // WithStdin; nil: none
	getenv         func(string) string

	hub     string // --hub, comma-separated
	apiKey  string
	caFile  string
	output  string
	timeout time.Duration
	// csvOK: the command runs with -o csv too (flotilla report).
	csvOK bool
	// now is the clock the output is computed against (a running job's
	// time so far): WithClock, else the system's.
	now func() time.Time

	cl *client.Client
}

// Option configures Run.
type Option func(*session)

// WithClock makes Run read the time from now (main passes time.Now; tests
// a fixed clock). Without it Run uses the system's clock.
func WithClock(now func() time.Time) Option {
	return func(s *session) { s.now = now }
}

// Run runs the command line args (without the program name), writing
// results to stdout and messages to stderr; getenv reads the environment
// (os.Getenv in main, nil for none). It returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, opts ...Option) int {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	s := &session{stdout: stdout, stderr: stderr, getenv: getenv, output: "table", timeout: DefaultTimeout, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	fs := s.flagSet("flotilla")
	fs.Usage = func() { s.rootUsage(stderr) }
	if err := fs.Parse(args); err != nil {
		return s.finish(usageErr(err))
	}
	rest := fs.Args()
	if len(rest) == 0 {
		s.rootUsage(stderr)
		return ExitUsage
	}
	return s.finish(runCommand(ctx, s, commandTree(), []string{"flotilla"}, rest))
}

// flagSet returns a flag set with the global flags, bound to s (so that
// they may appear before or after the command).
func (s *session) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package's own messages are dropped: finish prints the
	// error once, and usage functions write to stderr themselves.
	fs.SetOutput(io.Discard)
	fs.StringVar(&s.hub, "hub", s.hub, "hub URL(s), comma-separated (default $"+EnvHub+")")
	fs.StringVar(&s.apiKey, "api-key", s.apiKey, "API key (default $"+EnvAPIKey+")")
	fs.StringVar(&s.caFile, "ca-file", s.caFile, "CA file the hub's certificate is checked against (default $"+EnvCAFile+", else the system's CAs)")
	fs.StringVar(&s.output, "o", s.output, "output: table or json (not Slurm's -o/--output FILE: a job's output is kept with it, flotilla output JOB)")
	fs.DurationVar(&s.timeout, "timeout", s.timeout, "how long to keep trying the hub")
	return fs
}

func (s *session) rootUsage(w io.Writer) {
	fmt.Fprint(w, `usage: flotilla [--hub URL[,URL...]] [--api-key KEY] [--ca-file FILE] [-o table|json] COMMAND [ARGS]

commands:
`)
	printCommands(w, commandTree())
	fmt.Fprintf(w, "\nThe hub and key default to $%s and $%s. Run 'flotilla COMMAND -h' for a command's flags,\n'flotilla version' for the version. Exit codes: 0 done, 1 the hub refused or failed, 2 bad input (nothing sent),\n3 not found, 4 not allowed, 5 the hub could not be reached (network, DNS, TLS). See docs/cli.md.\n", EnvHub, EnvAPIKey)
}

// client returns the hub client, made on first use from the global
// settings.
func (s *session) client() (*client.Client, error) {
	if s.cl != nil {
		return s.cl, nil
	}
	hubs := s.hub
	if hubs == "" {
		hubs = s.getenv(EnvHub)
	}
	var urls []string
	for u := range strings.SplitSeq(hubs, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return nil, usagef("no hub: give --hub URL or set $%s", EnvHub)
	}
	key := s.apiKey
	if key == "" {
		key = s.getenv(EnvAPIKey)
	}
	if s.timeout <= 0 {
		return nil, usagef("--timeout must be positive")
	}
	opts := []client.Option{client.WithRetryTimeout(s.timeout)}
	caFile := s.caFile
	if caFile == "" {
		caFile = s.getenv(EnvCAFile)
	}
	if caFile != "" {
		tc, err := hubtls.ClientFromCAFile(caFile)
		if err != nil {
			return nil, usagef("--ca-file: %v", err)
		}
		opts = append(opts, client.WithTLS(tc))
	}
	cl, err := client.New(urls, key, opts...)
	if err != nil {
		return nil, usageErr(err)
	}
	s.cl = cl
	return cl, nil
}

// checkOutput validates -o (csv only where a command allows it).
func (s *session) checkOutput() error {
	if s.output == "csv" && s.csvOK {
		return nil
	}
	if s.output != "table" && s.output != "json" {
		return usagef("-o %q: want table or json (-o is the output format; for Slurm's -o FILE: flotilla output JOB prints a job's output)", s.output)
	}
	return nil
}

func (s *session) json() bool { return s.output == "json" }

// usageError is a bad command line or bad input: nothing was sent.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

func usageErr(err error) error {
	if err == nil {
		return nil
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return err
	}
	return &usageError{err}
}

// prefixedError names what an error is about ("machine type n1").
type prefixedError struct {
	prefix string
	err    error
}

func (e *prefixedError) Error() string { return e.prefix + ": " + e.err.Error() }
func (e *prefixedError) Unwrap() error { return e.err }

func withPrefix(prefix string, err error) error { return &prefixedError{prefix, err} }

// ExitCode maps an error of a command to the exit code.
func ExitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return ExitOK
	}
	if je, ok := errorsAsJobExit(err); ok {
		return je.code // --wait: the job's end
	}
	switch {
	case errors.As(err, &ue):
		return ExitUsage
	case errors.Is(err, structs.ErrNotFound), errors.Is(err, structs.ErrGone):
		return ExitNotFound
	case errors.Is(err, structs.ErrUnauthorized), errors.Is(err, structs.ErrForbidden):
		return ExitDenied
	}
	var unreach *unreachableError
	if errors.As(err, &unreach) {
		return ExitUnreachable
	}
	return ExitError
}

// unreachableError is a call to the hub that got no reply (see
// session.unreachable): ExitUnreachable.
type unreachableError struct {
	req *url.Error // the request that failed, to one of the hub's URLs
	err error
}

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// unreachable marks err as an unreachableError when it is a transport
// failure of a request to one of the hub's URLs with no reply from the
// hub in the chain (a hub that replied, even 503, refused or failed:
// ExitError). A failed call to another service (a cloud API of flotilla
// cloud) is not one, nor is an interrupted command.
func (s *session) unreachable(err error) error {
	var ae *client.APIError
	var ue *url.Error
	if err == nil || errors.As(err, &ae) || errors.Is(err, context.Canceled) || !errors.As(err, &ue) || !s.isHubURL(ue.URL) {
		return err
	}
	return &unreachableError{req: ue, err: err}
}

// isHubURL reports whether raw is on one of the hub's URLs (scheme and
// host): the client only ever calls those.
func (s *session) isHubURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || s.cl == nil {
		return false
	}
	for _, h := range s.cl.URLs() {
		if hu, err := url.Parse(h); err == nil && hu.Scheme == u.Scheme && hu.Host == u.Host {
			return true
		}
	}
	return false
}

// unreachableMessage says which hub URL failed and why.
func (s *session) unreachableMessage(e *unreachableError) string {
	ue, err := e.req, e.err
	where := ue.URL
	if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
		where = u.Scheme + "://" + u.Host
	}
	why := ue.Err.Error()
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	switch {
	case errors.As(err, &cv):
		why = "its TLS certificate is not trusted (" + cv.Err.Error() + "); give its CA with --ca-file or $" + EnvCAFile
	case errors.As(err, &rh):
		why = "it does not speak TLS there (" + rh.Msg + "); use an http:// URL, or the hub's TLS port"
	case errors.Is(err, context.DeadlineExceeded):
		why += fmt.Sprintf(" (kept trying for --timeout %s)", s.timeout)
	}
	msg := "cannot reach the hub at " + where + ": " + why
	if len(s.cl.URLs()) > 1 {
		msg += " (the last of the hub URLs tried)"
	}
	return msg
}

// finish prints err and returns the exit code.
func (s *session) finish(err error) int {
	err = s.unreachable(err)
	code := ExitCode(err)
	if code == ExitOK {
		return code
	}
	var ae *client.APIError
	var re *reportedError
	switch {
	case errors.Is(err, flag.ErrHelp), errors.As(err, &re):
	case code == ExitUnreachable:
		var ue *unreachableError
		errors.As(err, &ue)
		fmt.Fprintf(s.stderr, "flotilla: %s\n", s.unreachableMessage(ue))
	case errors.As(err, &ae):
		msg := ae.Message
		var pe *prefixedError
		if errors.As(err, &pe) {
			msg = pe.prefix + ": " + msg
		}
		fmt.Fprintf(s.stderr, "flotilla: %s (HTTP %d)\n", msg, ae.Status)
	default:
		fmt.Fprintf(s.stderr, "flotilla: %v\n", err)
	}
	return code
}
