package runtime

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Keys of the job Secret that hold the AppDef's files.
const (
	JobEnvKey    = "jobenv.sh" // variable parameters, at /etc/JARVICE/jobenv.sh
	uploadKeyPre = "upload-"   // + index: an UPLOAD parameter's file, at /opt/<target>
	cmdScriptKey = "cmdscript" // the command's cmdscript, at its path, executable
	volAppFiles  = "flotilla-appfiles"
)

// CommandLine builds what a job's head runs, exactly as JARVICE does (see
// appdef.Build): the argv of the AppDef command, the variables of its
// variable parameters and its uploaded files. The substitutions take the
// machine type's figures per node and the job's names; web fills
// %PUBLICADDR%, %BASEURL% and %RANDOM64%.
func CommandLine(in Input, web WebVars) (*appdef.Line, error) {
	job, mt := in.Job, in.MachineType
	cmd, err := appdef.CommandOf(&in.Command, job.Command)
	if err != nil {
		return nil, structs.Errorf(structs.ErrInvalid, "job %q: command %q: %v", job.ID, job.Command, err)
	}
	vars := appdef.Vars{Cores: mt.Cores, GPUs: mt.GPUs, RAMGB: mt.RAM, Nodes: job.Nodes, MachineType: mt.Name,
		JobName: job.Name, JobLabel: job.Label, VaultName: job.Vault, APIUser: job.Owner,
		APIURL: in.APIURL, APIKey: in.APIKey, PublicAddr: web.PublicAddr, BaseURL: web.BaseURL, Random64: web.Random64}
	if in.Vault != nil {
		vars.VaultType = string(in.Vault.Kind)
	} else {
		vars.VaultType = string(structs.VaultNone)
	}
	l, err := appdef.Build(cmd, job.Parameters, vars)
	if err != nil {
		var ve *structs.ValidationError
		if errors.As(err, &ve) {
			return nil, structs.Errorf(structs.ErrInvalid, "job %q: %v", job.ID, err)
		}
		return nil, err
	}
	return l, nil
}

// WebVars are the substitutions of a job's address: PublicAddr its host
// (jN.<jobs domain>, "" when the cluster has none), BaseURL the job's URL
// without its token, Random64 the job's token (an interactive job's
// guard token; a fresh one for a batch command that asks for it).
type WebVars struct {
	PublicAddr, BaseURL, Random64 string
}

// usesRandom64 says whether a command's AppDef names %RANDOM64%.
func usesRandom64(c *structs.Command) bool {
	doc := []byte(c.Raw)
	if len(doc) == 0 {
		doc, _ = json.Marshal(c)
	}
	return strings.Contains(string(doc), "%RANDOM64%")
}

// appFiles are the Secret entries of the job's AppDef files.
func appFiles(l *appdef.Line) map[string][]byte {
	data := map[string][]byte{JobEnvKey: appdef.JobEnvFile(l.Env)}
	for i, u := range l.Uploads {
		data[uploadKeyPre+strconv.Itoa(i)] = u.Data
	}
	if l.Script != nil {
		data[cmdScriptKey] = l.Script.Data
	}
	return data
}

// appFilesVolume projects the AppDef files of the job Secret.
func (r *renderer) appFilesVolume() corev1.Volume {
	items := []corev1.KeyToPath{{Key: JobEnvKey, Path: JobEnvKey}}
	for i := range r.line.Uploads {
		k := uploadKeyPre + strconv.Itoa(i)
		items = append(items, corev1.KeyToPath{Key: k, Path: k})
	}
	if r.line.Script != nil {
		items = append(items, corev1.KeyToPath{Key: cmdScriptKey, Path: cmdScriptKey, Mode: new(int32(0o555))})
	}
	return corev1.Volume{Name: volAppFiles, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: r.name, Items: items, DefaultMode: new(int32(0o444))}}}
}

// appFilesMounts places jobenv.sh in /etc/JARVICE, each upload at its
// /opt/<target> and the command's cmdscript at its path.
func (r *renderer) appFilesMounts() []corev1.VolumeMount {
	ms := []corev1.VolumeMount{{Name: volAppFiles, MountPath: JarviceDir + "/" + JobEnvKey, SubPath: JobEnvKey, ReadOnly: true}}
	for i, u := range r.line.Uploads {
		ms = append(ms, corev1.VolumeMount{Name: volAppFiles, MountPath: u.Path, SubPath: uploadKeyPre + strconv.Itoa(i), ReadOnly: true})
	}
	if r.line.Script != nil {
		ms = append(ms, corev1.VolumeMount{Name: volAppFiles, MountPath: r.line.Script.Path, SubPath: cmdScriptKey, ReadOnly: true})
	}
	return ms
}

// appEnv is the environment of the variable parameters.
func (r *renderer) appEnv() []corev1.EnvVar {
	var env []corev1.EnvVar
	for _, e := range r.line.Env {
		env = append(env, corev1.EnvVar{Name: e.Name, Value: e.Value})
	}
	return env
}
