package portal

import (
	"net/http"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// scriptView is what the job page shows of a script job (flotilla
// sbatch, POST /v1/jobs with a script, /jarvice/batch) in place of its
// batch app and that app's parameters: the image, the script and its
// arguments.
type scriptView struct {
	Image, Text, Args string
}

// scriptOf reads the job script of j through GET /v1/jobs/{id}/script,
// which serves it to the job's owner and the administrators over it;
// nil for a job of another app, or when the script cannot be read.
func (p *Portal) scriptOf(r *http.Request, s *session, j *structs.Job) *scriptView {
	if !strings.HasPrefix(j.App, structs.BatchAppPrefix) {
		return nil
	}
	ctx := withIdentity(r.Context(), s.id)
	text, err := p.api.JobScript(ctx, j.ID)
	if err != nil {
		return nil
	}
	v := &scriptView{Text: text, Args: j.Parameters["args"]}
	if a, err := p.api.GetApp(ctx, j.App); err == nil && a.IsBatchApp() {
		v.Image = a.Image
	}
	return v
}
