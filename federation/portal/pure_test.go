package portal

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/placement"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func TestMapClaims(t *testing.T) {
	yes, no := true, false
	rules := []ClaimRule{
		{Name: "hpc-admins", Group: "hpc-admins", Tenant: "system", Role: structs.RoleAdmin},
		{Name: "physics", Email: "*@physics.example", Tenant: "physics", Teams: []string{"cfd"}, Groups: []string{"gpu"}, KeepTokenGroups: true},
	}
	cases := map[string]struct {
		claims Claims
		want   *Account
		err    bool
	}{
		"group rule first": {claims: Claims{Email: "Ann@Physics.example", Groups: []string{"hpc-admins"}},
			want: &Account{Username: "ann@physics.example", Email: "ann@physics.example", Tenant: "system", Role: structs.RoleAdmin, Rule: "hpc-admins"}},
		"email rule, token groups kept": {claims: Claims{Email: "bo@physics.example", EmailVerified: &yes, Groups: []string{"lab"}},
			want: &Account{Username: "bo@physics.example", Email: "bo@physics.example", Tenant: "physics", Teams: []string{"cfd"},
				Role: structs.RoleUser, Groups: []string{"gpu", "lab"}, Rule: "physics"}},
		"no rule matches":  {claims: Claims{Email: "eve@other.example"}, err: true},
		"unverified email": {claims: Claims{Email: "bo@physics.example", EmailVerified: &no}, err: true},
		"no email":         {claims: Claims{Subject: "123", Groups: []string{"hpc-admins"}}, err: true},
	}
	for name, c := range cases {
		got, err := MapClaims(rules, c.claims)
		if (err != nil) != c.err {
			t.Errorf("%s: error %v, want error %v", name, err, c.err)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s: account (-want +got):\n%s", name, diff)
		}
	}
}

func TestFormFieldsAndMessages(t *testing.T) {
	raw := func(s string) []byte { return []byte(s) }
	cmd := structs.Command{ParameterOrder: []string{"n"}, Parameters: map[string]structs.Parameter{
		"n":    {Name: "Iterations", Type: structs.ParamInt, Min: 1, Max: 10, Required: true, Value: raw("5")},
		"x":    {Name: "Relax", Type: structs.ParamFloat, Min: 0, Max: 1},
		"s":    {Name: "Scheme", Type: structs.ParamSelection, Values: []string{"a", "b"}, Required: true},
		"f":    {Name: "Mesh", Type: structs.ParamFile, Filter: "*.msh"},
		"c":    {Name: "Mode", Type: structs.ParamConst, Value: raw(`"batch"`)},
		"b":    {Name: "Verbose", Type: structs.ParamBool},
		"name": {Name: "Case", Type: structs.ParamString, Required: true},
	}}
	fields := buildFields(cmd, nil)
	var order []string
	for _, f := range fields {
		order = append(order, f.Key+":"+f.Input)
	}
	if diff := cmp.Diff([]string{"n:number", "b:checkbox", "c:hidden", "f:text", "name:text", "s:select", "x:number"}, order); diff != "" {
		t.Errorf("order and inputs (-want +got):\n%s", diff)
	}
	cases := map[string]struct {
		values map[string]string
		want   map[string]string // key → message
	}{
		"defaults, required missing": {values: map[string]string{}, want: map[string]string{"name": "Case is required."}},
		"out of range and bad": {values: map[string]string{"n": "11", "x": "abc", "s": "z", "f": "mesh.txt", "name": "c1"},
			want: map[string]string{"n": "Iterations must be between 1 and 10.", "x": "Relax must be a number.",
				"s": "Scheme: choose one of the listed values.", "f": "Mesh must match *.msh."}},
		"not whole": {values: map[string]string{"n": "2.5", "s": "a", "name": "c1"}, want: map[string]string{"n": "Iterations must be a whole number."}},
		"all valid": {values: map[string]string{"n": "10", "x": "0.5", "s": "b", "f": "dir/m.msh", "name": "c1", "b": "true"}, want: map[string]string{}},
	}
	for name, c := range cases {
		fs := buildFields(cmd, c.values)
		ok := validateFields(fs)
		got := map[string]string{}
		for _, f := range fs {
			if f.Error != "" {
				got[f.Key] = f.Error
			}
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s: messages (-want +got):\n%s", name, diff)
		}
		if ok != (len(c.want) == 0) {
			t.Errorf("%s: valid %v", name, ok)
		}
	}
}

func TestPlacementOf(t *testing.T) {
	cases := map[string]struct {
		job        structs.Job
		where, why string
	}{
		"held": {job: structs.Job{State: structs.JobHeld, Substatus: "limit team-cores: 64 of 64"}, where: "not placed", why: "held by a limit: limit team-cores: 64 of 64"},
		"dependency": {job: structs.Job{State: structs.JobHeld, Dependency: &structs.JobDependency{Conditions: []structs.DependencyCondition{{Type: structs.DependAfterOK, Job: 4}}},
			Substatus: "Dependency: waits for afterok:4"}, where: "not placed", why: "held: Dependency: waits for afterok:4"},
		"waiting": {job: structs.Job{State: structs.JobQueued, Substatus: "east: 0 of 2 nodes free"}, where: "not placed yet", why: "waiting: east: 0 of 2 nodes free"},
		"pinned":  {job: structs.Job{State: structs.JobRunning, Cluster: "east", MachineType: "cpu-east"}, where: "east", why: "pinned: machine type cpu-east runs on cluster east"},
		"burst": {job: structs.Job{State: structs.JobCompleted, Cluster: "west", MachineType: "cpu-east", AssignedMachineType: "cpu-west", BurstRule: "e2w", Substatus: "done"},
			where: "west", why: "burst rule e2w: moved from cpu-east to cpu-west"},
		"pending on the cluster": {job: structs.Job{State: structs.JobAssigned, Cluster: "east", MachineType: "cpu-east", Substatus: "gang of 4 does not fit"},
			where: "east", why: "pinned: machine type cpu-east runs on cluster east — gang of 4 does not fit"},
	}
	for name, c := range cases {
		where, why := placementOf(&c.job)
		if where != c.where || why != c.why {
			t.Errorf("%s: got %q / %q, want %q / %q", name, where, why, c.where, c.why)
		}
	}
}

func TestDryRunNamesTheRule(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	in := placement.Input{Now: now,
		Clusters: []*structs.Cluster{{Name: "east", Status: structs.ClusterReady, LastHeartbeat: now, Capacity: map[string]structs.Capacity{"cpu-east": {Free: 0, Total: 1}}},
			{Name: "west", Status: structs.ClusterReady, LastHeartbeat: now, Capacity: map[string]structs.Capacity{"cpu-west": {Free: 2, Total: 2}}}},
		MachineTypes: []*structs.MachineType{{Name: "cpu-east", Cores: 1, Slots: 1, RAM: 1, ScaleMax: 4, Cluster: "east"},
			{Name: "cpu-west", Cores: 1, Slots: 1, RAM: 1, ScaleMax: 4, Cluster: "west"}},
		Apps:       []*structs.App{{Name: "cfd", Visibility: structs.VisibilityPublic, AppDef: structs.AppDef{Commands: map[string]structs.Command{"run": {Path: "/x"}}}}},
		Users:      []*structs.User{{Username: "ann", Tenant: "t", Role: structs.RoleUser}},
		BurstRules: []*structs.BurstRule{{Name: "e2w", From: "cpu-east", To: []string{"cpu-west"}, After: structs.Duration(time.Hour)}},
	}
	job := func() *structs.Job {
		return &structs.Job{ID: dryRunID, Tenant: "t", Owner: "ann", App: "cfd", Command: "run", MachineType: "cpu-east", Nodes: 1,
			State: structs.JobQueued, SubmitTime: now}
	}
	if r := dryRun(in, nil, job()); r.Outcome != "pending" {
		t.Errorf("stored rule (after 1h): %+v, want pending", r)
	}
	r := dryRun(in, &structs.BurstRule{Name: "e2w", From: "cpu-east", To: []string{"cpu-west"}}, job())
	if r.Outcome != "assigned" || r.Cluster != "west" || r.Rule != "e2w" {
		t.Errorf("edited rule (at once): %+v, want assigned to west by e2w", r)
	}
	if len(in.BurstRules) != 1 || in.BurstRules[0].After == 0 {
		t.Error("dry run changed its input")
	}
}

func TestCookiesAndCSRF(t *testing.T) {
	p := &Portal{cfg: Config{}}
	rec := httptest.NewRecorder()
	p.setCookie(rec, sessionCookie, "fls_x", 60)
	c := rec.Result().Cookies()[0]
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/ui/" {
		t.Errorf("cookie %+v: want HttpOnly, Secure, SameSite=Lax, path /ui/", c)
	}
	tok := csrfOf("fls_key")
	if tok == csrfOf("fls_other") || tok == "" {
		t.Error("CSRF tokens of different sessions must differ")
	}
	cases := map[string]struct {
		form, origin string
		ok           bool
	}{
		"token":              {form: "csrf=" + tok, ok: true},
		"no token":           {form: "name=x"},
		"wrong token":        {form: "csrf=" + csrfOf("fls_other")},
		"token, other site":  {form: "csrf=" + tok, origin: "http://evil.example"},
		"token, same origin": {form: "csrf=" + tok, origin: "http://hub.example", ok: true},
	}
	for name, c := range cases {
		r := httptest.NewRequest("POST", "http://hub.example/ui/keys", strings.NewReader(c.form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if err := checkCSRF(r, tok); (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok %v", name, err, c.ok)
		}
	}
}

func TestLoginThrottle(t *testing.T) {
	var l loginThrottle
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range maxLoginFailures {
		if !l.allowed("10.0.0.1", now) {
			t.Fatalf("refused after %d failures", i)
		}
		l.failed("10.0.0.1", now)
	}
	if l.allowed("10.0.0.1", now.Add(30*time.Second)) {
		t.Error("allowed after the limit within the minute")
	}
	if !l.allowed("10.0.0.2", now) {
		t.Error("another address refused")
	}
	if !l.allowed("10.0.0.1", now.Add(61*time.Second)) {
		t.Error("still refused a minute later")
	}
}

func TestSubmitFormArray(t *testing.T) {
	for name, tc := range map[string]struct {
		array, retries string
		want           *structs.ArraySpec
		wantRetries    int
		bad            bool
	}{
		"none":             {"", "", nil, 0, false},
		"spec and retries": {"1-100%8", "2", &structs.ArraySpec{Start: 1, End: 100, MaxRunning: 8}, 2, false},
		"bad spec":         {"100-1", "", nil, 0, true},
		"list": {"7-9,1,3%2", "", &structs.ArraySpec{Start: 1, End: 9, MaxRunning: 2,
			Ranges: []structs.ArrayRange{{Start: 1, End: 1}, {Start: 3, End: 3}, {Start: 7, End: 9}}}, 0, false},
		"bad list":          {"1,,3", "", nil, 0, true},
		"bad retries":       {"1-5", "-1", nil, 0, true},
		"retries, no array": {"", "3", nil, 0, true},
	} {
		t.Run(name, func(t *testing.T) {
			v := &submitView{App: &structs.App{Name: "a"}, Array: tc.array, TaskRetries: tc.retries}
			spec, retries, err := arrayOf(v)
			if tc.bad {
				if err == nil {
					t.Fatalf("accepted %q / %q", tc.array, tc.retries)
				}
				if tc.array != "" && tc.retries == "" && !strings.Contains(err.Error(), strconv.Quote(tc.array)) {
					t.Errorf("the message %q does not say what is wrong with %q", err, tc.array)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, spec); diff != "" || retries != tc.wantRetries {
				t.Errorf("(-want +got):\n%s retries %d", diff, retries)
			}
			req := requestOf(v)
			if diff := cmp.Diff(tc.want, req.Array); diff != "" || req.TaskRetries != tc.wantRetries {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

// TestJobPageTaskOutputs: an array job's page lists the task outputs the
// hub fetched (flotilla tasks JOB --output N), their text escaped.
func TestJobPageTaskOutputs(t *testing.T) {
	tmpl, err := parseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	j := &structs.Job{ID: "j", Name: "alice-1", State: structs.JobRunning, Array: &structs.ArrayJob{
		Spec:     structs.ArraySpec{Start: 1, End: 40},
		Progress: &structs.ArrayProgress{Total: 40, Running: 30, Succeeded: 10},
		Outputs:  []structs.TaskOutput{{Index: 17, State: structs.TaskSucceeded, Attempts: 1, Tail: "task 17 <says> hello\n"}},
	}}
	var buf strings.Builder
	if err := tmpl["job.html"].ExecuteTemplate(&buf, "job.html", &view{Data: &jobData{Job: j}}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if !strings.Contains(page, `id="job-array-outputs"`) || !strings.Contains(page, "<td>17</td><td>succeeded</td>") ||
		!strings.Contains(page, "task 17 &lt;says&gt; hello") {
		t.Errorf("job page without the fetched task output:\n%s", page)
	}
}

// TestDependencyWaitingText: a held job's reason says in words which
// earlier jobs it still waits for, leaving out conditions that hold.
func TestDependencyWaitingText(t *testing.T) {
	jobs := map[uint64]*structs.Job{
		12: {ID: "j-12", Number: 12, State: structs.JobRunning, StartTime: time.Unix(1, 0)},
		13: {ID: "j-13", Number: 13, State: structs.JobQueued},
	}
	for name, tc := range map[string]struct {
		d    structs.JobDependency
		want string
	}{
		"afterok": {structs.JobDependency{Conditions: []structs.DependencyCondition{{Type: structs.DependAfterOK, Job: 12}}},
			"waiting for job 12 to succeed"},
		"all, one holds": {structs.JobDependency{Conditions: []structs.DependencyCondition{
			{Type: structs.DependAfter, Job: 12}, {Type: structs.DependAfterAny, Job: 13}, {Type: structs.DependAfterNotOK, Job: 14}}},
			"waiting for job 13 to end and job 14 to fail"},
		"any": {structs.JobDependency{Any: true, Conditions: []structs.DependencyCondition{
			{Type: structs.DependAfterOK, Job: 12}, {Type: structs.DependAfter, Job: 13}}},
			"waiting for job 12 to succeed or job 13 to start"},
	} {
		conds := depConditions(&tc.d, jobs)
		if got := waitingText(&tc.d, conds); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
	if c := depConditions(&structs.JobDependency{Conditions: []structs.DependencyCondition{{Type: structs.DependAfterOK, Job: 14}}}, jobs); c[0].JobID != "" {
		t.Errorf("a job not read is linked: %+v", c[0])
	}
}
