package localnodes

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/proc"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// TestSbatchOnLocalNodes: job scripts submitted with the flotilla binary
// (flotilla sbatch) to a real hub, run by the shipped agent on two local
// nodes as real processes. A 2-node bash script prints its arguments
// (blanks and quotes intact), the SLURM_* and FLOTILLA_* variables and a
// variable its #SBATCH --export set; --wait returns when it ends with
// exit 0, and flotilla output prints its lines. The same script made to
// exit 7 (--export on the command line, added to the directive's) makes
// --wait exit 7. A script with #SBATCH --array=1-6%3 runs each task once,
// each seeing its SLURM_ARRAY_TASK_ID.
func TestSbatchOnLocalNodes(t *testing.T) {
	needLocalNodes(t)
	flotilla, err := proc.FindBin("flotilla")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	h := startHubAndNodes(t, ctx, "sbatch", "fs", "10.221.0.0/24", "sb-l0", "sb-l1")
	hubs, env, ln, shared := h.hubs, h.env, h.ln, h.shared

	admin := hubs.Client(hubs.AdminKey)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}))
	must(admin.PutCluster(ctx, "sbatch", &structs.ClusterSpec{}))
	must(admin.PutMachineType(ctx, &structs.MachineType{Name: "l4", Cores: 4, Slots: 2, RAM: 1, ScaleMin: 1, ScaleMax: 2,
		Cluster: "sbatch", Properties: Label + "=true", Devices: shared + "=/shared:rw"}))
	must(admin.PutUser(ctx, "alice", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser}))
	key, err := admin.CreateAPIKey(ctx, "alice", "sbatch")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateBootstrapToken(ctx, "sbatch")
	if err != nil {
		t.Fatal(err)
	}
	agent := procenv.StartAgent(t, procenv.AgentOptions{Cluster: "sbatch", HubURLs: hubs.URLs(), Kubeconfig: env.Kubeconfig,
		BootstrapToken: tok.Key, Args: []string{"-live-tail-every=300ms", "-pod-security=privileged"}}) // host binds

	// The flotilla command as a user runs it.
	cli := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.CommandContext(ctx, flotilla, args...)
		cmd.Env = []string{"FLOTILLA_HUB=" + strings.Join(hubs.URLs(), ","), "FLOTILLA_API_KEY=" + key.Key,
			"FLOTILLA_CA_FILE=" + hubs.CAFile, "FLOTILLA_IMAGE=debian:stable", "PATH=/usr/bin:/bin"}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return out.String(), errb.String(), cmd.ProcessState.ExitCode()
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "job.sh")
	scriptText := `#!/bin/bash
# a Slurm user's script, marker-never-logged-5521
#SBATCH -N 2
#SBATCH -p l4
#SBATCH -J e2e -t 0:05:00
#SBATCH --export=GREETING=hello
echo "args: $# [$1] [$2]"
echo "slurm: $SLURM_JOB_ID $SLURM_NNODES $SLURM_JOB_NAME $SLURM_JOB_NODELIST $SLURM_NTASKS"
echo "flotilla: $FLOTILLA_JOB_NUMBER $FLOTILLA_NODES $FLOTILLA_ROLE"
echo "greeting: $GREETING"
[ -n "$BASH_VERSION" ] && echo "run by bash"
exit ${EXIT_CODE:-0}
#SBATCH -N 1
`
	if err := os.WriteFile(script, []byte(scriptText), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := cli("sbatch", "--wait", script, "big world", `it's "quoted"`)
	if code != 0 || !strings.HasPrefix(out, "Submitted batch job ") {
		t.Fatalf("sbatch --wait: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	n := strings.TrimSpace(strings.TrimPrefix(out, "Submitted batch job "))
	out, errs, code = cli("output", n)
	for _, want := range []string{
		"args: 2 [big world] [it's \"quoted\"]\n",
		"slurm: " + n + " 2 e2e j" + n + "-0.j" + n + ",j" + n + "-1.j" + n + " 8\n",
		"flotilla: " + n + " 2 head\n",
		"greeting: hello\n",
		"run by bash\n",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("flotilla output %s: exit %d, lacks %q\nstdout: %s\nstderr: %s", n, code, want, out, errs)
		}
	}
	// The head served SSH with the host's sshd, whose log is in the
	// output, without a line for each node's readiness probe.
	if !strings.Contains(out, "Server listening") || strings.Contains(out, "[preauth]") || strings.Contains(out, "kex_exchange_identification") {
		t.Errorf("flotilla output %s: want sshd's log without the probes' lines:\n%s", n, out)
	}

	// Exit 7: --wait exits with the job's code.
	out, errs, code = cli("sbatch", "--wait", "--export", "EXIT_CODE=7", "-N", "1", script)
	if code != 7 || !strings.Contains(errs, "COMPLETED_WITH_ERROR with exit code 7") {
		t.Errorf("sbatch --wait of a script exiting 7: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}

	// The script is never logged: not by the hub, the agent or the node.
	for _, log := range []string{hubs.Replica(0).LogPath, agent.LogPath, ln.LogPath()} {
		b, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("marker-never-logged-5521")) || bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString([]byte(scriptText)))) {
			t.Errorf("%s holds the job script", log)
		}
	}

	// An array: each task once, with its index.
	arr := filepath.Join(dir, "array.sh")
	if err := os.WriteFile(arr, []byte(`#!/bin/sh
#SBATCH -p l4 -N 2
#SBATCH --array=1-6%3
echo "$SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID ($SLURM_JOB_ID)" > /shared/task-$SLURM_ARRAY_TASK_ID
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code = cli("sbatch", "--wait", "--parsable", arr)
	if code != 0 {
		t.Fatalf("sbatch --wait of the array: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	an := strings.TrimSpace(out)
	files, _ := filepath.Glob(filepath.Join(shared, "task-*"))
	sort.Strings(files)
	if len(files) != 6 {
		t.Fatalf("array tasks wrote %v, want 6 files", files)
	}
	for i := 1; i <= 6; i++ {
		b, err := os.ReadFile(filepath.Join(shared, "task-"+strconv.Itoa(i)))
		if want := strconv.Itoa(i) + " of job " + an + " (" + an + ")\n"; err != nil || string(b) != want {
			t.Errorf("task %d wrote %q (%v), want %q", i, b, err, want)
		}
	}
}
