package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fixedRandom is a deterministic stand-in for crypto/rand.
func fixedRandom() *rand.ChaCha8 {
	return rand.NewChaCha8([32]byte{'f', 'l', 'o', 't', 'i', 'l', 'l', 'a'})
}

func submitted() time.Time { return time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC) }

func testOptions() Options {
	return Options{
		Options: podgroup.Options{
			Namespace: "flotilla-jobs",
			Image:     "registry.example.com/apps/solver:1.0",
		},
		InitImage:  "registry.example.com/flotilla/init:v1",
		JobsDomain: "jobs.example.com",
	}
}

func testJob(number uint64, nodes int) *structs.Job {
	return &structs.Job{
		ID: "job-" + strings.Repeat("a", 8), Number: number,
		Name:   structs.JobName("alice", submitted(), number),
		Tenant: "acme", Owner: "alice", App: "mini-solver", Command: "Run",
		MachineType: "n4", Nodes: nodes, Priority: structs.PriorityNormal,
		Walltime: structs.Duration(2 * time.Hour), SubmitTime: submitted(),
	}
}

func n4() *structs.MachineType {
	return &structs.MachineType{Name: "n4", Cores: 4, Slots: 4, RAM: 16, ScaleMax: 8}
}

func solverCommand() structs.Command {
	return structs.Command{
		Path: "/opt/solver/run.sh", Name: "Run",
		Parameters: map[string]structs.Parameter{
			"np":    {Name: "Ranks", Type: structs.ParamConst, Value: json.RawMessage(`"%TCORES%"`), Positional: true, Required: true},
			"input": {Name: "Case", Type: structs.ParamFile, Positional: true, Required: true},
		},
	}
}

// goldenCases are the rendered jobs checked against testdata/<name>.yaml.
func goldenCases() map[string]struct {
	in   Input
	opts Options
} {
	type tc = struct {
		in   Input
		opts Options
	}
	batch := testJob(42, 1)
	batch.Parameters = map[string]string{"input": "/data/case1.cas"}

	interactive := testJob(43, 1)
	desktop := structs.Command{
		Path: "/usr/local/bin/start-desktop", Name: "Desktop", Interactive: true,
		Ports: []string{"5902/tcp", "5901/udp"},
		URL:   "https://%PUBLICADDR%/vnc.html?password=%RANDOM64%&job=%JOBNAME%",
		Parameters: map[string]structs.Parameter{
			"-geometry": {Name: "Geometry", Type: structs.ParamString, Value: json.RawMessage(`"1280x720"`)},
		},
	}
	iopts := testOptions()
	iopts.IngressClass = "nginx"
	iopts.IngressTLSSecret = "jobs-wildcard-tls"
	iopts.IngressAnnotations = map[string]string{"nginx.ingress.kubernetes.io/proxy-read-timeout": "3600"}

	multi := testJob(44, 4)
	multi.Parameters = map[string]string{"input": "/data/big.cas"}
	mt := n4()
	mt.Devices = "$OMPI_MCA_btl_tcp_if_include=eth0,/scratch=/scratch:rw,/opt/licenses=/licenses:ro"
	mopts := testOptions()
	mopts.Mounts = []Mount{
		{Name: "apps", Path: "/opt/apps", ReadOnly: true, NFS: &corev1.NFSVolumeSource{Server: "nfs.example.com", Path: "/export/apps"}},
	}

	gpu := testJob(45, 2)
	gpuCmd := structs.Command{
		Path: "/usr/bin/torchrun",
		Parameters: map[string]structs.Parameter{
			"--nnodes":         {Type: structs.ParamConst, Value: json.RawMessage(`"%NODES%"`)},
			"--nproc-per-node": {Type: structs.ParamConst, Value: json.RawMessage(`"%GPUS%"`)},
			"--tag":            {Type: structs.ParamConst, Value: json.RawMessage(`"%MACHINETYPE%-%CORES%"`)},
			"--amp":            {Type: structs.ParamBool, Value: json.RawMessage(`true`)},
			"--epochs":         {Type: structs.ParamInt, Value: json.RawMessage(`10`)},
			"script":           {Type: structs.ParamString, Positional: true, Required: true},
		},
	}
	gpu.Parameters = map[string]string{"script": "/data/train.py", "--epochs": "3"}
	gmt := &structs.MachineType{Name: "ng2", Cores: 8, Slots: 8, GPUs: 2, RAM: 64, Scratch: 100,
		Properties: "accelerator=nvidia-l4"}

	return map[string]tc{
		"batch": {in: Input{Job: batch, MachineType: n4(), Command: solverCommand(),
			Vault: &structs.Vault{Tenant: "acme", Name: "alice-home", Kind: structs.VaultFile, ClaimName: "vault-alice-home", AccessMode: structs.AccessRWX},
		}, opts: testOptions()},
		"interactive": {in: Input{Job: interactive, MachineType: n4(), Command: desktop,
			Identity: structs.Identity{UID: 1001, GID: 1001}}, opts: iopts},
		"multinode": {in: Input{Job: multi, MachineType: mt, Command: solverCommand(),
			Identity: structs.Identity{UID: 2000, GID: 3000},
			Vault:    &structs.Vault{Tenant: "acme", Name: "scratch", Kind: structs.VaultBlock, ClaimName: "vault-scratch", AccessMode: structs.AccessRWO},
			VaultNFS: &corev1.NFSVolumeSource{Server: "nfs-alice-scratch.flotilla-jobs.svc", Path: "/"},
			OwnerUID: "0b4e6f3a-2c1d-4e5f-8a9b-112233445566",
		}, opts: mopts},
		"gpu": {in: Input{Job: gpu, MachineType: gmt, Command: gpuCmd}, opts: testOptions()},
	}
}

// renderYAML renders in and returns its objects as a YAML stream.
func renderYAML(t *testing.T, in Input, opts Options) []byte {
	t.Helper()
	in.Random = fixedRandom()
	objs, err := Render(in, opts)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	var b bytes.Buffer
	for i, o := range objs.All() {
		y, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return b.Bytes()
}

func TestRenderGolden(t *testing.T) {
	for name, tc := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			got := renderYAML(t, tc.in, tc.opts)
			path := filepath.Join("testdata", name+".yaml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")); diff != "" {
				t.Errorf("%s differs (-want +got; run with -update if intended):\n%s", path, diff)
			}
			if again := renderYAML(t, tc.in, tc.opts); !bytes.Equal(got, again) {
				t.Error("two renders with the same random stream differ")
			}
		})
	}
}

func TestRenderObjects(t *testing.T) {
	cases := goldenCases()
	in := cases["interactive"].in
	in.Random = fixedRandom()
	objs, err := Render(in, cases["interactive"].opts)
	if err != nil {
		t.Fatal(err)
	}
	token := string(objs.Secret.Data[TokenKey])
	if len(token) != 64 {
		t.Errorf("token %q: want 64 hex digits", token)
	}
	wantURL := "https://j43.jobs.example.com/vnc.html?password=" + token + "&job=j43&flotilla_token=" + token
	if objs.URL != wantURL || string(objs.Secret.Data[URLKey]) != wantURL {
		t.Errorf("URL %q, secret url %q; want %q", objs.URL, objs.Secret.Data[URLKey], wantURL)
	}
	if len(objs.Ingress.Spec.Rules) != 1 || objs.Ingress.Spec.Rules[0].Host != "j43.jobs.example.com" {
		t.Errorf("ingress rules %+v", objs.Ingress.Spec.Rules)
	}
	if p := objs.WebService.Spec.Ports; len(p) != 1 || p[0].Port != 5902 {
		t.Errorf("web service ports %+v: want only 5902 (udp dropped)", p)
	}

	// Before SetOwner nothing has an owner; after it all but the Secret do.
	for _, o := range objs.All() {
		if len(o.GetOwnerReferences()) != 0 {
			t.Errorf("%s has owners before SetOwner", o.GetName())
		}
	}
	objs.SetOwner(types.UID("uid-1"))
	for i, o := range objs.All() {
		refs := o.GetOwnerReferences()
		if i == 0 {
			if len(refs) != 0 {
				t.Error("the Secret owns itself")
			}
			continue
		}
		if len(refs) != 1 || refs[0].Kind != "Secret" || refs[0].Name != "j43" || refs[0].UID != "uid-1" {
			t.Errorf("%T %s: owner refs %+v", o, o.GetName(), refs)
		}
		if o.GetLabels()[podgroup.LabelJob] != "43" || o.GetLabels()[podgroup.LabelManaged] != "true" {
			t.Errorf("%T %s: labels %v", o, o.GetName(), o.GetLabels())
		}
	}
}

func TestRenderMultinodeMachinefile(t *testing.T) {
	tc := goldenCases()["multinode"]
	in := tc.in
	in.Random = fixedRandom()
	objs, err := Render(in, tc.opts)
	if err != nil {
		t.Fatal(err)
	}
	wantNodes := "j44-0.j44\nj44-1.j44\nj44-2.j44\nj44-3.j44\n"
	if got := objs.ConfigMap.Data[NodesKey]; got != wantNodes {
		t.Errorf("nodes = %q, want %q", got, wantNodes)
	}
	if got := strings.Count(objs.ConfigMap.Data[CoresKey], "j44-2.j44\n"); got != 4 {
		t.Errorf("cores lists j44-2 %d times, want 4", got)
	}
	for rank, p := range objs.Pods {
		host := p.Spec.Hostname + "." + p.Spec.Subdomain
		if host != Hostnames(44, 4)[rank] {
			t.Errorf("pod %d is %s, machinefile says %s", rank, host, Hostnames(44, 4)[rank])
		}
		args := p.Spec.Containers[0].Args
		hasCmd := slices.Contains(args, "/data/big.cas")
		if hasCmd != (rank == 0) {
			t.Errorf("pod %d args %q: only the head runs the command", rank, args)
		}
		if sc := p.Spec.SecurityContext; *sc.RunAsUser != 2000 || *sc.RunAsGroup != 3000 || *sc.FSGroup != 3000 {
			t.Errorf("pod %d security context %+v", rank, sc)
		}
	}
	if objs.Service.Spec.ClusterIP != corev1.ClusterIPNone || !objs.Service.Spec.PublishNotReadyAddresses ||
		objs.Service.Name != objs.Pods[0].Spec.Subdomain {
		t.Errorf("headless service %+v", objs.Service.Spec)
	}
}

func TestRenderDefaultIdentity(t *testing.T) {
	tc := goldenCases()["batch"]
	in := tc.in
	in.Random = fixedRandom()
	objs, err := Render(in, tc.opts)
	if err != nil {
		t.Fatal(err)
	}
	sc := objs.Pods[0].Spec.SecurityContext
	if *sc.RunAsUser != DefaultUID || *sc.RunAsGroup != DefaultGID || *sc.FSGroup != DefaultGID || !*sc.RunAsNonRoot {
		t.Errorf("security context %+v: want 505/505, non-root", sc)
	}
}

func TestRenderKeysWork(t *testing.T) {
	tc := goldenCases()["batch"]
	in := tc.in
	in.Random = fixedRandom()
	objs, err := Render(in, tc.opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, k := range []string{initproc.PrivateKeyFile, initproc.PublicKeyFile, initproc.AuthorizedKeysFile} {
		if err := os.WriteFile(filepath.Join(dir, k), objs.Secret.Data[k], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := initproc.ReadKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !keys.IsAuthorized(keys.Signer.PublicKey()) {
		t.Error("the job key is not in its own authorized_keys")
	}
}

func TestRenderErrors(t *testing.T) {
	base := func() Input {
		return Input{Job: testJob(7, 2), MachineType: n4(), Command: solverCommand(), Random: fixedRandom()}
	}
	cases := map[string]struct {
		in   func() Input
		opts func() Options
	}{
		"no random":                  {in: func() Input { in := base(); in.Random = nil; return in }},
		"missing required parameter": {in: base},
		"unknown parameter": {in: func() Input {
			in := base()
			in.Job.Parameters = map[string]string{"input": "x", "bogus": "1"}
			return in
		}},
		"interactive without port": {in: func() Input {
			in := base()
			in.Job.Parameters = map[string]string{"input": "x"}
			in.Command.Interactive = true
			return in
		}},
		"interactive without jobs domain": {in: func() Input {
			in := base()
			in.Job.Parameters = map[string]string{"input": "x"}
			in.Command.Interactive, in.Command.Ports = true, []string{"8888/tcp"}
			return in
		}, opts: func() Options { o := testOptions(); o.JobsDomain = ""; return o }},
		"no init image": {in: base, opts: func() Options { o := testOptions(); o.InitImage = ""; return o }},
		"bad mount": {in: base, opts: func() Options {
			o := testOptions()
			o.Mounts = []Mount{{Name: "x", Path: "/x"}}
			return o
		}},
		"bad device": {in: func() Input {
			in := base()
			in.Job.Parameters = map[string]string{"input": "x"}
			in.MachineType.Devices = "/host=relative"
			return in
		}},
		"no job number": {in: func() Input {
			in := base()
			in.Job.Parameters = map[string]string{"input": "x"}
			in.Job.Number = 0
			return in
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			opts := testOptions()
			if tc.opts != nil {
				opts = tc.opts()
			}
			_, err := Render(tc.in(), opts)
			if !errors.Is(err, structs.ErrInvalid) {
				t.Errorf("Render: %v, want an ErrInvalid", err)
			}
		})
	}
}

func TestRenderRandomExhausted(t *testing.T) {
	in := goldenCases()["batch"].in
	in.Random = bytes.NewReader(make([]byte, 10))
	if _, err := Render(in, testOptions()); !errors.Is(err, structs.ErrUnavailable) {
		t.Errorf("Render with a short random stream: %v, want ErrUnavailable", err)
	}
}

func TestRenderExtraLabelsAndAnnotations(t *testing.T) {
	tc := goldenCases()["multinode"]
	in := tc.in
	in.Random = fixedRandom()
	in.Labels = map[string]string{"flotilla.io/filer": "filer-x", podgroup.LabelJob: "999"}
	in.PodAnnotations = map[string]string{"a": "all", "b": "all", podgroup.AnnotJobID: "spoofed"}
	in.HeadAnnotations = map[string]string{"b": "head"}
	objs, err := Render(in, tc.opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs.All() {
		l := o.GetLabels()
		if l["flotilla.io/filer"] != "filer-x" || l[podgroup.LabelJob] != "44" {
			t.Errorf("%T %s: labels %v", o, o.GetName(), l)
		}
	}
	for rank, p := range objs.Pods {
		want := map[string]string{"a": "all", "b": "all"}
		if rank == 0 {
			want["b"] = "head"
		}
		for k, v := range want {
			if p.Annotations[k] != v {
				t.Errorf("pod %d annotation %s = %q, want %q", rank, k, p.Annotations[k], v)
			}
		}
		if p.Annotations[podgroup.AnnotJobID] != in.Job.ID {
			t.Errorf("pod %d: job id annotation overridden: %q", rank, p.Annotations[podgroup.AnnotJobID])
		}
	}
	if _, ok := objs.Secret.Annotations["a"]; ok {
		t.Error("pod annotations leaked onto the Secret")
	}
}

// TestConnectTokenParam: the hub reads an interactive job's token out of
// the URL the agent reports by the guard's own query parameter.
func TestConnectTokenParam(t *testing.T) {
	if initproc.GuardQuery != structs.ConnectTokenParam {
		t.Fatalf("guard query %q, hub reads %q", initproc.GuardQuery, structs.ConnectTokenParam)
	}
}

// TestWebSubstitutions: CONST values get %PUBLICADDR% (the job's host),
// %BASEURL% (its URL without the token) and %RANDOM64% (an interactive
// job's guard token, the one its URL carries; a fresh one for a batch
// command that asks for it).
func TestWebSubstitutions(t *testing.T) {
	cmd := func(interactive bool) structs.Command {
		c := structs.Command{Path: "/opt/app", Interactive: interactive,
			Parameters: map[string]structs.Parameter{
				"--host": {Type: structs.ParamConst, Value: json.RawMessage(`"%PUBLICADDR%"`)},
				"--base": {Type: structs.ParamConst, Value: json.RawMessage(`"%BASEURL%"`)},
				"--pass": {Type: structs.ParamConst, Value: json.RawMessage(`"%RANDOM64%"`)},
			}}
		if interactive {
			c.Ports = []string{"8080/tcp"}
		}
		return c
	}
	opts := testOptions()
	opts.IngressTLSSecret = "tls"
	for _, interactive := range []bool{true, false} {
		o, err := Render(Input{Job: testJob(8, 1), MachineType: n4(), Command: cmd(interactive), Random: fixedRandom()}, opts)
		if err != nil {
			t.Fatal(err)
		}
		argv := strings.Join(o.Pods[0].Spec.Containers[0].Args, " ") + " " + strings.Join(o.Pods[0].Spec.Containers[0].Command, " ")
		host := "j8." + opts.JobsDomain
		for _, want := range []string{"--host " + host, "--base https://" + host + "/"} {
			if !strings.Contains(argv, want) {
				t.Errorf("interactive=%v: argv %q lacks %q", interactive, argv, want)
			}
		}
		tok := string(o.Secret.Data[TokenKey])
		switch {
		case interactive && (tok == "" || !strings.Contains(argv, "--pass "+tok) || !strings.Contains(o.URL, tok)):
			t.Errorf("interactive: argv %q, token %q, URL %q: %%RANDOM64%% is not the job's token", argv, tok, o.URL)
		case !interactive && (strings.Contains(argv, "--pass  ") || strings.Contains(argv, "%RANDOM64%") || !regexp.MustCompile(`--pass [0-9a-f]{64}`).MatchString(argv)):
			t.Errorf("batch: argv %q: want a fresh 64-character %%RANDOM64%%", argv)
		}
	}
}

// TestRenderPullSecret: a job with a pull credential gets a
// kubernetes.io/dockerconfigjson Secret holding it — not a job Secret
// (no managed label), owned by the job Secret — which every pod names in
// imagePullSecrets; a job without one gets neither.
func TestRenderPullSecret(t *testing.T) {
	const cred = `{"auths":{"reg.example":{"auth":"dTpw"}}}`
	job := testJob(7, 2)
	job.Parameters = map[string]string{"input": "/data/case.in"}
	in := Input{Job: job, MachineType: n4(), Command: solverCommand(), Random: fixedRandom(), PullSecret: cred}
	o, err := Render(in, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	ps := o.PullSecret
	if ps == nil || ps.Name != "j7-pull" || ps.Type != corev1.SecretTypeDockerConfigJson ||
		string(ps.Data[corev1.DockerConfigJsonKey]) != cred || ps.Labels[podgroup.LabelManaged] != "" {
		t.Fatalf("pull Secret %+v", ps)
	}
	if all := o.All(); all[1] != ps {
		t.Errorf("the pull Secret is not created right after the job Secret: %T", all[1])
	}
	o.SetOwner("uid-1")
	if refs := ps.OwnerReferences; len(refs) != 1 || refs[0].UID != "uid-1" || refs[0].Name != o.Secret.Name {
		t.Errorf("pull Secret owners %+v", refs)
	}
	for _, p := range o.Pods {
		if len(p.Spec.ImagePullSecrets) != 1 || p.Spec.ImagePullSecrets[0].Name != "j7-pull" {
			t.Errorf("pod %s imagePullSecrets %v", p.Name, p.Spec.ImagePullSecrets)
		}
	}
	in.PullSecret, in.Random = "", fixedRandom()
	if o, err = Render(in, testOptions()); err != nil || o.PullSecret != nil || o.Pods[0].Spec.ImagePullSecrets != nil {
		t.Errorf("without a credential: %v, %+v", err, o.PullSecret)
	}
}
