package runtime

import (
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// jobEnvKeyPre begins the job Secret's keys holding the job's own
// variables (structs.Job.Env): "env." + the name. The values reach the
// containers only through secret references, never the pod spec.
const jobEnvKeyPre = "env."

// jobEnvNames are the job's own variables' names, sorted.
func (r *renderer) jobEnvNames() []string {
	return slices.Sorted(maps.Keys(r.job.Env))
}

// jobEnvData are the job Secret's entries of the job's variables.
func (r *renderer) jobEnvData() map[string][]byte {
	data := make(map[string][]byte, len(r.job.Env))
	for k, v := range r.job.Env {
		data[jobEnvKeyPre+k] = []byte(v)
	}
	return data
}

// jobEnv are the container's variables of the job's own environment, each
// read from the job Secret. They come before the AppDef's variable
// parameters, which win a name both set (the app's contract), and never
// name FLOTILLA_*, SLURM_* or JARVICE_* (the hub refuses those).
func (r *renderer) jobEnv() []corev1.EnvVar {
	var env []corev1.EnvVar
	for _, k := range r.jobEnvNames() {
		env = append(env, corev1.EnvVar{Name: k, ValueFrom: r.secretRef(jobEnvKeyPre + k)})
	}
	return env
}

// workdirArgs are flotilla-init's flags of the job's working directory and
// of its own variables' names.
func (r *renderer) workdirArgs() []string {
	var args []string
	if r.job.Workdir != "" {
		args = append(args, "--workdir", r.job.Workdir)
	}
	if len(r.job.Env) > 0 {
		args = append(args, "--job-env", strings.Join(r.jobEnvNames(), ","))
	}
	return args
}
