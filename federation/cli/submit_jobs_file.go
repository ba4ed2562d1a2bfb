package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// flotilla submit --jobs FILE|- submits many jobs: one v1 submission (the
// body of POST /v1/jobs) per line of FILE (JSON lines; blank lines and
// lines starting with # are skipped), in batches of up to
// structs.MaxBatchJobs (POST /v1/jobs/batch; one call per job against a
// hub without it). Every line is read first: a line that is not a
// submission stops the command before anything is sent (exit 2). Then
// one line is printed per job, in the file's order: its number, name and
// id, or its line number and why the hub refused it (exit 1 if any was).

// maxJobsLine bounds one line of a --jobs file (the hub's body limit).
const maxJobsLine = 1 << 20

// jobsLine is one submission of a --jobs file and the line it came from.
type jobsLine struct {
	line int
	req  structs.JobSubmitRequest
}

// jobsFlagsAllowed are the flags --jobs may come with: the global ones.
var jobsFlagsAllowed = map[string]bool{"jobs": true, "hub": true, "api-key": true, "ca-file": true, "o": true, "timeout": true}

// runSubmitJobs is flotilla submit --jobs FILE|- (fs parsed, file its
// value, pos the arguments left).
func runSubmitJobs(ctx context.Context, s *session, fs *flag.FlagSet, file string, pos []string) error {
	var other []string
	fs.Visit(func(f *flag.Flag) {
		if !jobsFlagsAllowed[f.Name] {
			other = append(other, "--"+f.Name)
		}
	})
	switch {
	case len(other) > 0:
		return usagef("submit: --jobs takes every field from its lines: %s cannot be given with it", strings.Join(other, ", "))
	case len(pos) > 0:
		return usagef("submit: --jobs takes no arguments (%q)", pos[0])
	}
	name, r := file, s.stdin
	if file == "-" {
		name = "stdin"
		if r == nil {
			return usagef("submit: --jobs -: no standard input to read from")
		}
	} else {
		f, err := os.Open(file)
		if err != nil {
			return usagef("submit: --jobs: %v", err)
		}
		defer f.Close()
		r = f
	}
	lines, err := readJobsLines(r)
	if err != nil {
		return usagef("submit: --jobs %s: %v", name, err)
	}
	if len(lines) == 0 {
		return usagef("submit: --jobs %s: no submissions in it", name)
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	var out []jobsResult
	refused := 0
	for lo := 0; lo < len(lines); lo += structs.MaxBatchJobs {
		chunk := lines[lo:min(lo+structs.MaxBatchJobs, len(lines))]
		reqs := make([]structs.JobSubmitRequest, len(chunk))
		for i, l := range chunk {
			reqs[i] = l.req
		}
		res, err := cl.SubmitJobs(ctx, reqs)
		if err != nil {
			return err // the lines before this batch are printed
		}
		for i, r := range res {
			jr := jobsResult{Line: chunk[i].line, Job: r.Job}
			if r.Err != nil {
				refused++
				jr.Job, jr.Error = nil, r.Err.Error()
				var ae *client.APIError
				if errors.As(r.Err, &ae) {
					jr.Error, jr.Status, jr.Errors = ae.Message, ae.Status, ae.Errors
				}
			}
			if s.json() {
				out = append(out, jr)
				continue
			}
			if err := s.jobsLine(jr); err != nil {
				return err
			}
		}
	}
	if s.json() {
		if err := s.printJSON(out); err != nil {
			return err
		}
	}
	if refused > 0 {
		return &reportedError{fmt.Errorf("%d of %d jobs refused", refused, len(lines))}
	}
	return nil
}

// jobsResult is one line's outcome (-o json prints a list of them).
type jobsResult struct {
	Line   int                 `json:"line"`
	Job    *structs.Job        `json:"job,omitempty"`
	Status int                 `json:"status,omitempty"`
	Error  string              `json:"error,omitempty"`
	Errors []structs.PathError `json:"errors,omitempty"`
}

// jobsLine prints one line's outcome.
func (s *session) jobsLine(r jobsResult) error {
	if r.Job != nil {
		return s.line("line %d: submitted job %s (number %d), id %s, state %s", r.Line, r.Job.Name, r.Job.Number, r.Job.ID, r.Job.State)
	}
	msg := r.Error
	if r.Status != 0 {
		msg = fmt.Sprintf("%s (HTTP %d)", msg, r.Status)
	}
	return s.line("line %d: refused: %s", r.Line, msg)
}

// readJobsLines reads a --jobs file: one JSON object per line, decoded
// as the hub decodes a submission (unknown fields refused); blank lines
// and # comments skipped.
func readJobsLines(r io.Reader) ([]jobsLine, error) {
	var out []jobsLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxJobsLine)
	n := 0
	for sc.Scan() {
		n++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		var l jobsLine
		l.line = n
		if err := dec.Decode(&l.req); err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("line %d: more than one JSON value (one submission per line)", n)
		}
		if text[0] != '{' {
			return nil, fmt.Errorf("line %d: want a JSON object (a submission)", n)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than %d bytes", n+1, maxJobsLine)
		}
		return nil, err
	}
	return out, nil
}
