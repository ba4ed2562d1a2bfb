package client

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// decodeJob decodes a job reply into j as json.Unmarshal does. The
// replies the hub writes for submissions and job reads (one flat object
// of the job's members, strings without escapes) are parsed by hand,
// their strings sharing one copy of data; any other body — nested
// objects (identity, parameters, env, array, dependency), escapes, null,
// numbers other than plain integers, members named otherwise than the
// hub names them — goes to json.Unmarshal from j as it was, so every
// outcome and error is json.Unmarshal's (TestJobDecoderMatchesUnmarshal).
func decodeJob(data []byte, j *structs.Job) error {
	orig := *j
	if decodeJobFast(data, j) {
		return nil
	}
	*j = orig
	return json.Unmarshal(data, j)
}

// jobParser reads one job reply; s is the reply as a string.
type jobParser struct {
	s string
	i int
}

func (p *jobParser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// next consumes c after white space.
func (p *jobParser) next(c byte) bool {
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a string without escapes or control bytes, in valid UTF-8:
// what json.Unmarshal would decode to the same bytes.
func (p *jobParser) str() (string, bool) {
	if !p.next('"') {
		return "", false
	}
	start := p.i
	ascii := true
	for ; p.i < len(p.s); p.i++ {
		switch c := p.s[p.i]; {
		case c == '"':
			v := p.s[start:p.i]
			p.i++
			return v, ascii || utf8.ValidString(v)
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// quoted reads a string as str does and appends it, with its quotes, to
// dst.
func (p *jobParser) quoted(dst []byte) ([]byte, bool) {
	p.ws()
	start := p.i
	if _, ok := p.str(); !ok {
		return nil, false
	}
	return append(dst, p.s[start:p.i]...), true
}

// digits reads an integer as JSON writes it: an optional minus (when neg
// is allowed), then 0 or digits without a leading zero; at most 20 digits
// (its caller's strconv refuses what overflows).
func (p *jobParser) digits(neg bool) (string, bool) {
	p.ws()
	start := p.i
	if neg && p.i < len(p.s) && p.s[p.i] == '-' {
		p.i++
	}
	d := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	n := p.i - d
	if n == 0 || n > 20 || (n > 1 && p.s[d] == '0') {
		return "", false
	}
	if p.i < len(p.s) {
		switch p.s[p.i] {
		case '.', 'e', 'E':
			return "", false
		}
	}
	return p.s[start:p.i], true
}

func (p *jobParser) uint() (uint64, bool) {
	s, ok := p.digits(false)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

func (p *jobParser) int() (int, bool) {
	s, ok := p.digits(true)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	return v, err == nil
}

// decodeJobFast parses data into j if it is a reply of the kind decodeJob
// takes; false leaves j partly set.
func decodeJobFast(data []byte, j *structs.Job) bool {
	p := &jobParser{s: string(data)}
	if !p.next('{') {
		return false
	}
	if !p.next('}') {
		for {
			name, ok := p.str()
			if !ok || !p.next(':') || !p.member(name, j) {
				return false
			}
			if p.next(',') {
				continue
			}
			if !p.next('}') {
				return false
			}
			break
		}
	}
	p.ws()
	return p.i == len(p.s)
}

// member reads the value of the member called name into j.
func (p *jobParser) member(name string, j *structs.Job) (ok bool) {
	var sp *string
	switch name {
	case "create_index":
		j.CreateIndex, ok = p.uint()
		return ok
	case "modify_index":
		j.ModifyIndex, ok = p.uint()
		return ok
	case "number":
		j.Number, ok = p.uint()
		return ok
	case "nodes":
		j.Nodes, ok = p.int()
		return ok
	case "exit_code":
		j.ExitCode, ok = p.int()
		return ok
	case "submit_time", "assign_time", "start_time", "end_time", "walltime":
		var buf [48]byte
		q, ok := p.quoted(buf[:0])
		if !ok {
			return false
		}
		switch name {
		case "submit_time":
			return j.SubmitTime.UnmarshalJSON(q) == nil
		case "assign_time":
			return j.AssignTime.UnmarshalJSON(q) == nil
		case "start_time":
			return j.StartTime.UnmarshalJSON(q) == nil
		case "end_time":
			return j.EndTime.UnmarshalJSON(q) == nil
		default:
			return j.Walltime.UnmarshalJSON(q) == nil
		}
	case "state", "priority":
		v, ok := p.str()
		if name == "state" {
			j.State = structs.JobState(v)
		} else {
			j.Priority = structs.PriorityClass(v)
		}
		return ok
	case "id":
		sp = &j.ID
	case "name":
		sp = &j.Name
	case "label":
		sp = &j.Label
	case "project":
		sp = &j.Project
	case "tenant":
		sp = &j.Tenant
	case "team":
		sp = &j.Team
	case "owner":
		sp = &j.Owner
	case "app":
		sp = &j.App
	case "command":
		sp = &j.Command
	case "machine_type":
		sp = &j.MachineType
	case "vault":
		sp = &j.Vault
	case "substatus":
		sp = &j.Substatus
	case "cluster":
		sp = &j.Cluster
	case "previous_cluster":
		sp = &j.PreviousCluster
	case "assigned_machine_type":
		sp = &j.AssignedMachineType
	case "burst_rule":
		sp = &j.BurstRule
	case "log_tail":
		sp = &j.LogTail
	case "callback_url":
		sp = &j.CallbackURL
	case "trigger":
		sp = &j.Trigger
	case "connect_url":
		sp = &j.ConnectURL
	case "request_id":
		sp = &j.RequestID
	case "pull_secret":
		sp = &j.PullSecret
	case "workdir":
		sp = &j.Workdir
	default:
		return false // nested objects, other spellings: json.Unmarshal
	}
	*sp, ok = p.str()
	return ok
}
