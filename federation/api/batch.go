package api

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Job scripts: POST /v1/jobs with "script" (flotilla sbatch) and
// /jarvice/batch run a job script in a container image. Both take one
// path (scriptJob): the image becomes a private app of the caller, one
// per user and image ("batch-<hash>", made on first use), whose one
// command runs the script, and the job is a job of that app whose
// parameters carry the script (an UPLOAD: it reaches the nodes in the
// job's Secret, never in a pod spec) and its arguments.
const (
	batchCommand = "batch"
	// batchWrapperParam is the shell's -c: its default is batchWrapper.
	// Jobs a hub before job scripts submitted set it to their script
	// (then run as /bin/sh -c SCRIPT), and still run so.
	batchWrapperParam = "-c"
	batchScriptParam  = "script"
	batchArgsParam    = "args"
	// BatchScriptPath is where a job's script lands on every node.
	BatchScriptPath   = "/opt/" + batchScriptTarget
	batchScriptTarget = "flotilla/job-script"
)

// batchWrapper runs the job script at BatchScriptPath as the kernel would
// run an executable script (the interpreter and the one optional argument
// of its "#!" line; /bin/sh without one, as /jarvice/batch allows), with
// the arguments $1 holds, quoted by shellQuote, and sbatch's SLURM_*
// variables made from flotilla-init's FLOTILLA_* ones.
const batchWrapper = `f=` + BatchScriptPath + `
if [ ! -r "$f" ]; then echo "flotilla-batch: no job script at $f" >&2; exit 127; fi
if [ $# -gt 0 ]; then eval "set -- $1"; fi
hosts=
if [ -r "${FLOTILLA_MACHINEFILE-}" ]; then
	while IFS= read -r h; do hosts=${hosts:+$hosts,}$h; done < "$FLOTILLA_MACHINEFILE"
fi
export SLURM_JOB_ID="${FLOTILLA_JOB_NUMBER-}" SLURM_JOBID="${FLOTILLA_JOB_NUMBER-}" \
	SLURM_JOB_NAME="${FLOTILLA_JOB_LABEL:-${FLOTILLA_JOB_NAME-}}" \
	SLURM_JOB_NUM_NODES="${FLOTILLA_NODES-}" SLURM_NNODES="${FLOTILLA_NODES-}" \
	SLURM_NTASKS="${FLOTILLA_TCORES-}" SLURM_NPROCS="${FLOTILLA_TCORES-}" \
	SLURM_CPUS_ON_NODE="${FLOTILLA_CORES-}" SLURM_JOB_CPUS_PER_NODE="${FLOTILLA_CORES-}" \
	SLURM_JOB_PARTITION="${FLOTILLA_MACHINETYPE-}" SLURM_JOB_NODELIST="$hosts" SLURM_NODELIST="$hosts" \
	SLURM_NODEID="${FLOTILLA_RANK-0}" SLURM_PROCID="${FLOTILLA_RANK-0}" SLURM_SUBMIT_DIR="$PWD" \
	SLURM_CLUSTER_NAME=flotilla
first=
IFS= read -r first < "$f" || :
case $first in
"#!"*)
	l=${first#??}
	l=${l#"${l%%[! 	]*}"}
	i=${l%%[ 	]*}
	a=${l#"$i"}
	a=${a#"${a%%[! 	]*}"}
	a=${a%"${a##*[! 	]}"}
	if [ -n "$a" ]; then exec "$i" "$a" "$f" "$@"; fi
	exec "$i" "$f" "$@";;
esac
exec /bin/sh "$f" "$@"
`

// batchAppDef is the AppDef of a batch app: /bin/sh -c WRAPPER
// flotilla-batch ARGS, the script an UPLOAD. The document is written in
// order: positional parameters follow the order the AppDef lists them.
func batchAppDef(image string) structs.AppDef {
	q := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	doc := `{"name":` + q("batch "+image) + `,"description":` + q("container image "+image+" running a job script") +
		`,"author":"jarvice/batch","licensed":false,"appdefversion":2,"classifications":["Batch"],"machines":["*"]` +
		`,"vault-types":["FILE","BLOCK","BLOCK_ARRAY","OBJECT","NONE"],"commands":{` + q(batchCommand) + `:{` +
		`"path":"/bin/sh","name":"Batch","description":"runs the job script","interactive":false,"parameters":{` +
		q(batchWrapperParam) + `:{"name":"runner","description":"runs the job script (its default)","type":"STR","positional":false,"required":false,"value":` + q(batchWrapper) + `},` +
		q(batchScriptParam) + `:{"name":"job script","description":"","type":"UPLOAD","target":` + q(batchScriptTarget) + `,"size":` + strconv.Itoa(structs.MaxJobScript) + `,"required":false},` +
		`"name":{"name":"name","description":"","type":"CONST","value":"flotilla-batch","positional":true},` +
		q(batchArgsParam) + `:{"name":"script arguments","description":"","type":"STR","positional":true,"required":false}}}}}`
	var d structs.AppDef
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		panic("batch AppDef: " + err.Error()) // a constant document; TestBatchAppDefValid parses it
	}
	return d
}

// scriptJob turns a script submission (req.Script, req.Image,
// req.ScriptArgs) into a job of the caller's batch app for the image and
// returns that app. It writes nothing: the replica admits the job as if
// the app were in the catalog and makes (or updates) the app only for a
// job it admits (Jobs.SubmitScriptJob). strict applies sbatch's checks
// to the script (see structs.CheckJobScript).
func (s *Server) scriptJob(c *call, req *structs.JobSubmitRequest, strict bool) (*structs.App, error) {
	if err := structs.CheckJobScript(req.Script, strict); err != nil {
		return nil, err
	}
	if req.Image == "" {
		if s.batchImg == "" {
			return nil, &structs.FieldError{Object: "job", Field: "image", Msg: "is required with a script: this hub has no default image for job scripts (flotilla-hub -batch-image)"}
		}
		req.Image = s.batchImg
	}
	if err := structs.CheckImageRef(req.Image); err != nil {
		return nil, err
	}
	// Made by the hub, not the caller: its only choice is the image,
	// which is what a script submission offers every user. One of an
	// earlier hub gets this AppDef, which runs its jobs as before.
	app := &structs.App{Name: structs.BatchAppName(c.id.Username, req.Image), Owner: c.id.Username,
		Tenant: c.id.Tenant, Visibility: structs.VisibilityPrivate, Image: req.Image,
		AppDef: batchAppDef(req.Image)}
	req.App, req.Command = app.Name, batchCommand
	req.Parameters = map[string]string{batchScriptParam: base64.StdEncoding.EncodeToString([]byte(req.Script))}
	if len(req.ScriptArgs) > 0 {
		req.Parameters[batchArgsParam] = shellQuote(req.ScriptArgs)
	}
	req.Script, req.Image, req.ScriptArgs = "", "", nil
	return app, nil
}

// shellQuote quotes args for a POSIX shell's eval: each in single
// quotes, in which a single quote is written as
//
//	'\''
//
// (end the quotes, an escaped quote, quote again). The batch wrapper's
// eval "set -- $1" gives the script exactly args.
func shellQuote(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}

// batchScript returns the job script of a job of a batch app, and false
// for another job.
func batchScript(j *structs.Job) (string, bool) {
	if !strings.HasPrefix(j.App, structs.BatchAppPrefix) || j.Command != batchCommand {
		return "", false
	}
	if v, ok := j.Parameters[batchScriptParam]; ok {
		b, err := base64.StdEncoding.DecodeString(v)
		return string(b), err == nil
	}
	v, ok := j.Parameters[batchWrapperParam] // a job of an earlier hub
	return v, ok
}

// jobScript is GET /v1/jobs/{id}/script: the job script of a job of a
// batch app, as text, to whoever may read the job (its owner and the
// administrators over it); 404 for another job.
func (s *Server) jobScript(c *call) (any, error) {
	_, j, err := c.readableJob()
	if err != nil {
		return nil, err
	}
	script, ok := batchScript(j)
	if !ok {
		return nil, structs.Errorf(structs.ErrNotFound, "job %s (number %d) runs app %s, not a job script", j.Name, j.Number, j.App)
	}
	return &rawReply{contentType: "text/plain; charset=utf-8", body: []byte(script)}, nil
}
