package cli

import (
	"strings"
	"testing"
)

// TestSubmitSlurmOnlyFlags: an sbatch flag submit does not take exits 2
// with what to use instead and sends nothing; a value that merely looks
// like one, or anything after "--", is not taken for one.
func TestSubmitSlurmOnlyFlags(t *testing.T) {
	url, requests := countingHub(t)
	env := map[string]string{EnvHub: url}
	for args, want := range map[string]string{
		"--mem=4G":              "submit: --mem is sbatch's, not taken here: memory comes with the machine type",
		"--ntasks 64":           "submit: --ntasks is sbatch's, not taken here: ranks and cores come with the machine type",
		"-n 64":                 "submit: -n is sbatch's",
		"--gres=gpu:2":          "GPUs come with the machine type",
		"--output=run.%j.out":   "flotilla output JOB",
		"-o json --qos=high":    "use --priority normal|high|highest",
		"--label x --exclusive": "never shared with another job",
		"--wrap=./run.sh":       "flotilla sbatch --image IMAGE --wrap CMD runs a command line",
		"--requeue":             "submit: --requeue is sbatch's, not taken here: nothing restarts a job",
		"--comment=sweep":       "use --label TEXT",
		"--hint=nomultithread":  "cores and threads come with the machine type",
	} {
		argv := append([]string{"submit", "--app", "solver", "-p", "n1"}, strings.Fields(args)...)
		r := runCLI(t, env, argv...)
		r.check(t, ExitUsage, want)
	}
	// Values that look like flags are values; after "--" nothing is a flag.
	r := runCLI(t, env, "submit", "--app", "solver", "-p", "n1", "--label", "--mem", "--param", "x=--gres")
	if strings.Contains(r.stderr, "sbatch's") {
		t.Errorf("a flag's value taken for an sbatch flag: %s", r.stderr)
	}
	if n := requests.Swap(0); n == 0 {
		t.Error("a valid submission sent nothing")
	}
	r = runCLI(t, env, "submit", "--app", "solver", "-p", "n1", "--", "--mem")
	if strings.Contains(r.stderr, "sbatch's") || r.code != ExitUsage {
		t.Errorf("after --: exit %d, %s", r.code, r.stderr)
	}
	// Slurm's -o FILE: the output format's refusal says where output is.
	runCLI(t, env, "submit", "--app", "solver", "-p", "n1", "-o", "slurm-%j.out").check(t, ExitUsage,
		`-o "slurm-%j.out": want table or json`, "flotilla output JOB")
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests sent for refused command lines", n)
	}
}

// TestSubmitParsable: submit --parsable prints the job's number alone, as
// sbatch --parsable prints the job id, for A=$(flotilla submit ...).
func TestSubmitParsable(t *testing.T) {
	u := newUserHub(t)
	runCLI(t, u.env, "submit", "--app", "solver", "-p", "n1").check(t, ExitOK, "(number 1)")
	r := runCLI(t, u.env, "submit", "--parsable", "--app", "solver", "-p", "n1")
	r.check(t, ExitOK)
	if r.stdout != "2\n" {
		t.Errorf("submit --parsable printed %q, want \"2\\n\"", r.stdout)
	}
	r = runCLI(t, u.env, "submit", "--app", "solver", "-p", "n1", "-d", "afterok:"+strings.TrimSpace(r.stdout), "--parsable")
	r.check(t, ExitOK)
	if r.stdout != "3\n" {
		t.Errorf("submit --parsable printed %q, want \"3\\n\"", r.stdout)
	}
	runCLI(t, u.env, "why", "3").check(t, ExitOK, "afterok:2")
}
