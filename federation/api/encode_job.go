package api

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// appendJobJSON appends j as encoding/json encodes it (HTML escaped, no
// trailing newline) without reflection: the reply of a submission and of
// GET /v1/jobs/{id}. ok is false for a job it leaves to encoding/json —
// one with an array spec, a dependency, signal requests or share links, or a time or walltime that
// encoding/json would refuse or write otherwise — and b is then
// unspecified. TestJobEncoderMatchesEncodingJSON holds it to
// encoding/json's bytes on every field of structs.Job.
func appendJobJSON(b []byte, j *structs.Job) (_ []byte, ok bool) {
	if j.Array != nil || j.Dependency != nil || len(j.Signals) > 0 || len(j.Shares) > 0 {
		return b, false
	}
	b = append(b, '{')
	first := true
	key := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	str := func(name, v string) {
		key(name)
		b = appendJSONString(b, v)
	}
	optStr := func(name, v string) {
		if v != "" {
			str(name, v)
		}
	}
	if j.CreateIndex != 0 {
		key("create_index")
		b = strconv.AppendUint(b, j.CreateIndex, 10)
	}
	if j.ModifyIndex != 0 {
		key("modify_index")
		b = strconv.AppendUint(b, j.ModifyIndex, 10)
	}
	str("id", j.ID)
	key("number")
	b = strconv.AppendUint(b, j.Number, 10)
	str("name", j.Name)
	optStr("label", j.Label)
	optStr("project", j.Project)
	str("tenant", j.Tenant)
	optStr("team", j.Team)
	str("owner", j.Owner)
	str("app", j.App)
	optStr("command", j.Command)
	if len(j.Parameters) > 0 {
		key("parameters")
		b = appendStringMap(b, j.Parameters)
	}
	str("machine_type", j.MachineType)
	key("nodes")
	b = strconv.AppendInt(b, int64(j.Nodes), 10)
	optStr("vault", j.Vault)
	if j.Walltime != 0 {
		// Duration.MarshalJSON's quoting, which encoding/json keeps as is
		// unless it holds a byte it escapes.
		n := len(b)
		key("walltime")
		b = strconv.AppendQuote(b, time.Duration(j.Walltime).String())
		for _, c := range b[n:] {
			if c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
				return b, false
			}
		}
	}
	optStr("priority", string(j.Priority))
	if id := j.Identity; id != nil {
		key("identity")
		b = append(b, `{"uid":`...)
		b = strconv.AppendInt(b, int64(id.UID), 10)
		b = append(b, `,"gid":`...)
		b = strconv.AppendInt(b, int64(id.GID), 10)
		if id.Group != "" {
			b = append(b, `,"group":`...)
			b = appendJSONString(b, id.Group)
		}
		b = append(b, '}')
	}
	str("state", string(j.State))
	optStr("substatus", j.Substatus)
	if j.ExitCode != 0 {
		key("exit_code")
		b = strconv.AppendInt(b, int64(j.ExitCode), 10)
	}
	optStr("cluster", j.Cluster)
	optStr("previous_cluster", j.PreviousCluster)
	optStr("assigned_machine_type", j.AssignedMachineType)
	optStr("burst_rule", j.BurstRule)
	for _, t := range [...]struct {
		name string
		t    time.Time
	}{{"submit_time", j.SubmitTime}, {"assign_time", j.AssignTime}, {"start_time", j.StartTime}, {"end_time", j.EndTime}} {
		if t.t.IsZero() {
			continue
		}
		key(t.name)
		if b, ok = appendJSONTime(b, t.t); !ok {
			return b, false
		}
	}
	optStr("log_tail", j.LogTail)
	optStr("callback_url", j.CallbackURL)
	optStr("trigger", j.Trigger)
	optStr("connect_url", j.ConnectURL)
	optStr("request_id", j.RequestID)
	optStr("pull_secret", j.PullSecret)
	if len(j.Env) > 0 {
		key("env")
		b = appendStringMap(b, j.Env)
	}
	optStr("workdir", j.Workdir)
	return append(b, '}'), true
}

// appendJSONTime appends t as time.Time's MarshalJSON writes it (RFC 3339
// with nanoseconds, quoted); ok is false where MarshalJSON fails (a year
// outside 0–9999, a zone offset of 24 hours or more).
func appendJSONTime(b []byte, t time.Time) (_ []byte, ok bool) {
	b = append(b, '"')
	n := len(b)
	b = t.AppendFormat(b, time.RFC3339Nano)
	if len(b) < n+len("2006-01-02T15:04:05Z") || b[n+4] != '-' {
		return b, false
	}
	if b[len(b)-1] != 'Z' {
		zone := b[len(b)-len("Z07:00"):]
		if c := zone[0]; c >= '0' && c <= '9' {
			return b, false
		}
		if h := 10*(zone[1]-'0') + zone[2] - '0'; h >= 24 {
			return b, false
		}
	}
	return append(b, '"'), true
}

// appendStringMap appends m as encoding/json does: keys sorted, both keys
// and values escaped.
func appendStringMap(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

// jsonSafe marks the ASCII bytes encoding/json writes as they are in a
// string with HTML escaping on: printable, not a quote, a backslash or
// one of <, >, &.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted and escaped as encoding/json does with
// HTML escaping (its default): \" \\ \b \f \n \r \t, \u00XX for the other
// control bytes and <, >, &, \ufffd for each invalid UTF-8 byte, \u2028
// and \u2029 for the line and paragraph separators.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
