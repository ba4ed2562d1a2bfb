package structs

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestErrors(t *testing.T) {
	err := Errorf(ErrNotFound, "job %q", "j1")
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
		t.Errorf("Errorf kind: %v", err)
	}
	if got, want := err.Error(), `job "j1": not found`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var te error = &TransitionError{JobID: "j1", From: JobRunning, To: JobQueued}
	wrapped := errors.Join(errors.New("ctx"), te)
	if !errors.Is(wrapped, ErrConflict) {
		t.Errorf("TransitionError is not ErrConflict")
	}
	var as *TransitionError
	if !errors.As(wrapped, &as) || as.To != JobQueued {
		t.Errorf("errors.As failed: %v", as)
	}
	if KindOf(te) != ErrConflict || KindOf(errors.New("x")) != nil {
		t.Errorf("KindOf wrong")
	}
}

// TestKindStatusTable: every kind maps to one status and back, also
// wrapped; the kinds travel between replicas by name; statuses without a
// kind (and errors without one) stay without.
func TestKindStatusTable(t *testing.T) {
	want := map[error]int{ErrInvalid: 400, ErrUnauthorized: 401, ErrForbidden: 403, ErrNotFound: 404,
		ErrConflict: 409, ErrTooLarge: 413, ErrNotLeader: 421, ErrRateLimited: 429, ErrUnavailable: 503}
	for kind, status := range want {
		wrapped := fmt.Errorf("outer: %w", Errorf(kind, "inner"))
		if got := HTTPStatus(wrapped); got != status {
			t.Errorf("HTTPStatus(%v) = %d, want %d", kind, got, status)
		}
		if got := KindOfStatus(status); got != kind {
			t.Errorf("KindOfStatus(%d) = %v, want %v", status, got, kind)
		}
		if got := KindOf(wrapped); got != kind {
			t.Errorf("KindOf(%v) = %v", wrapped, got)
		}
		if got := KindNamed(kind.Error()); got != kind {
			t.Errorf("KindNamed(%q) = %v", kind.Error(), got)
		}
	}
	for _, s := range []int{502, 504} {
		if KindOfStatus(s) != ErrUnavailable {
			t.Errorf("KindOfStatus(%d) = %v, want unavailable", s, KindOfStatus(s))
		}
	}
	for _, s := range []int{200, 204, 418, 500} {
		if k := KindOfStatus(s); k != nil {
			t.Errorf("KindOfStatus(%d) = %v, want none", s, k)
		}
	}
	if HTTPStatus(errors.New("x")) != StatusInternal || HTTPStatus(nil) != StatusInternal || KindNamed("nope") != nil {
		t.Error("an error of no kind has a status or a name")
	}
}

func TestAPIKeyHash(t *testing.T) {
	h := HashAPIKey("fk_abc", "fk_abc.s3cret")
	if !h.Matches("fk_abc.s3cret") || h.Matches("fk_abc.other") {
		t.Errorf("Matches wrong")
	}
	if (APIKeyHash{ID: "x", SHA256: "zz"}).Matches("") {
		t.Errorf("bad hash matched")
	}
	if err := h.validate("k"); err != nil {
		t.Errorf("validate: %v", err)
	}
}

func TestDurationJSON(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    Duration
		wantErr bool
	}{
		"go syntax": {`"1h30m"`, Duration(90 * time.Minute), false},
		"walltime":  {`"02:00:30"`, Duration(2*time.Hour + 30*time.Second), false},
		"empty":     {`""`, 0, false},
		"number":    {`60`, 0, true},
		"bad mins":  {`"01:61:00"`, 0, true},
		"garbage":   {`"soon"`, 0, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var d Duration
			err := json.Unmarshal([]byte(tc.in), &d)
			if (err != nil) != tc.wantErr || d != tc.want {
				t.Fatalf("got %v, %v; want %v, err %v", d, err, tc.want, tc.wantErr)
			}
			if err == nil {
				b, _ := json.Marshal(d)
				var back Duration
				if err := json.Unmarshal(b, &back); err != nil || back != d {
					t.Errorf("round trip %s: %v %v", b, back, err)
				}
			}
		})
	}
}

// TestCopyIsDeep changes every reference field of a copy and checks the
// original is untouched.
func TestCopyIsDeep(t *testing.T) {
	job := &Job{ID: "j", Parameters: map[string]string{"a": "1"}}
	user := &User{Username: "u", Teams: []string{"t"}, Groups: []string{"g"}, APIKeys: []APIKeyHash{{ID: "k"}}}
	cl := &Cluster{Name: "c", Labels: map[string]string{"a": "b"}, Capacity: map[string]Capacity{"n3": {Free: 1, Total: 2}}}
	app := &App{Name: "a", AppDef: AppDef{Machines: []string{"n*"}, Commands: map[string]Command{
		"run": {Path: "/r", Ports: []string{"22/tcp"}, Parameters: map[string]Parameter{
			"p": {Name: "P", Value: json.RawMessage(`"x"`), Values: []string{"x"}}}}}}}
	rule := &BurstRule{Name: "b", To: []string{"x"}, Tenants: []string{"t"}}
	team := &Team{Name: "t", Members: []string{"m"}}
	mt := &MachineType{Name: "n3", Privs: []string{"g"}}

	tests := map[string]struct {
		orig   any
		mutate func() any // copies, mutates the copy, returns the original's twin
	}{
		"job": {job.Copy(), func() any {
			c := job.Copy()
			c.Parameters["a"] = "2"
			return job
		}},
		"user": {user.Copy(), func() any {
			c := user.Copy()
			c.Teams[0], c.Groups[0], c.APIKeys[0].ID = "x", "x", "x"
			return user
		}},
		"cluster": {cl.Copy(), func() any {
			c := cl.Copy()
			c.Labels["a"], c.Capacity["n3"] = "x", Capacity{}
			return cl
		}},
		"app": {app.Copy(), func() any {
			c := app.Copy()
			c.AppDef.Machines[0] = "x"
			cmd := c.AppDef.Commands["run"]
			cmd.Ports[0] = "x"
			cmd.Parameters["p"].Values[0] = "y"
			cmd.Parameters["p"].Value[1] = 'z'
			return app
		}},
		"rule": {rule.Copy(), func() any {
			c := rule.Copy()
			c.To[0], c.Tenants[0] = "y", "y"
			return rule
		}},
		"team": {team.Copy(), func() any { c := team.Copy(); c.Members[0] = "x"; return team }},
		"mt":   {mt.Copy(), func() any { c := mt.Copy(); c.Privs[0] = "x"; return mt }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.orig, tc.mutate()); diff != "" {
				t.Errorf("mutating a copy changed the original (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := map[string]struct {
		v  interface{ Validate() error }
		ok bool
	}{
		"tenant":               {&Tenant{Name: "acme"}, true},
		"tenant empty":         {&Tenant{}, false},
		"user bad role":        {&User{Username: "u", Tenant: "t", Role: "root"}, false},
		"user bcrypt":          {&User{Username: "u", Tenant: "t", Role: RoleUser, PasswordHash: "$2a$10$x"}, true},
		"user plaintext pw":    {&User{Username: "u", Tenant: "t", Role: RoleUser, PasswordHash: "hunter2"}, false},
		"user dup key":         {&User{Username: "u", Tenant: "t", Role: RoleUser, APIKeys: []APIKeyHash{HashAPIKey("k", "a"), HashAPIKey("k", "b")}}, false},
		"machine ok":           {&MachineType{Name: "n3", Cores: 4, Slots: 4, RAM: 16, Properties: "a=b, c=d", ScaleMax: 8}, true},
		"machine bad property": {&MachineType{Name: "n3", Cores: 4, Properties: "nokey"}, false},
		"machine scale":        {&MachineType{Name: "n3", Cores: 4, ScaleMin: 4, ScaleMax: 2}, false},
		"vault":                {&Vault{Tenant: "t", Name: "v", Kind: VaultFile, AccessMode: AccessRWO}, true},
		"vault mode":           {&Vault{Tenant: "t", Name: "v", Kind: VaultFile, AccessMode: "RO"}, false},
		"limit team":           {&Limit{Name: "l", Scope: ScopeTeam, Tenant: "t", Team: "x", Kind: LimitTotalCores, Value: 8}, true},
		"limit needs mt":       {&Limit{Name: "l", Scope: ScopeTenant, Tenant: "t", Kind: LimitMaxNodes, Value: 8}, false},
		"burst":                {&BurstRule{Name: "b", From: "n3", To: []string{"g3"}}, true},
		"burst to self":        {&BurstRule{Name: "b", From: "n3", To: []string{"n3"}}, false},
		"burst node cap":       {&BurstRule{Name: "b", From: "n3", To: []string{"g3"}, MaxTargetNodes: -1}, false},
		"cluster capacity":     {&Cluster{Name: "c", Capacity: map[string]Capacity{"n3": {Free: 3, Total: 2}}}, false},
		"app visibility":       {&App{Name: "a", Visibility: "world"}, false},
		"accounting backwards": {&AccountingRecord{ID: "a", JobID: "j", Tenant: "t", Start: time.Unix(2, 0), End: time.Unix(1, 0)}, false},
		"audit":                {&AuditEvent{ID: "a", Actor: "u", Action: "job.submit", Time: time.Unix(1, 0)}, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.v.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
		})
	}
}

func TestCommandKeepsParameterOrder(t *testing.T) {
	var c Command
	err := json.Unmarshal([]byte(`{"path":"/run.sh","parameters":{
		"np":{"name":"Ranks","type":"CONST","value":"%TCORES%","positional":true},
		"input":{"name":"Case","type":"FILE","positional":true},
		"alpha":{"name":"A","type":"STR"}}}`), &c)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.ParameterOrder, ","); got != "np,input,alpha" {
		t.Errorf("ParameterOrder = %s, want np,input,alpha", got)
	}
	// The order survives a round trip (snapshots, the API).
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Command
	if err := json.Unmarshal(b, &back); err != nil || strings.Join(back.ParameterOrder, ",") != "np,input,alpha" {
		t.Errorf("round trip: %v, %v", back.ParameterOrder, err)
	}
}

// TestNewIDs: job and audit IDs keep their shape (a prefix and 26
// lower-case base-32 characters), never repeat, and the IDs one process
// makes in a row sort in the order they were made (the counter half).
func TestNewIDs(t *testing.T) {
	seen := map[string]bool{}
	for _, mk := range []struct {
		prefix string
		fn     func() string
	}{{"j-", NewJobID}, {"ev-", NewAuditID}} {
		prev := ""
		for range 1000 {
			id := mk.fn()
			body, ok := strings.CutPrefix(id, mk.prefix)
			if !ok || len(body) != 26 || strings.Trim(body, "abcdefghijklmnopqrstuvwxyz234567") != "" {
				t.Fatalf("id %q: want %q and 26 base-32 characters", id, mk.prefix)
			}
			if seen[id] {
				t.Fatalf("id %q made twice", id)
			}
			seen[id] = true
			if prev != "" && body[:13] <= prev[:13] && !strings.HasPrefix(prev, "3zzzzzzzzzzzz") {
				t.Fatalf("id %q made after %q sorts before it", body, prev)
			}
			prev = body
		}
		if n := testing.AllocsPerRun(100, func() { _ = mk.fn() }); n != 1 {
			t.Errorf("%s IDs: %v allocations each, want 1 (the string)", mk.prefix, n)
		}
	}
}
