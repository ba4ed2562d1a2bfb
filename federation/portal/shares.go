package portal

import (
	"net/http"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Share links on the job page of a running interactive job: the list
// (never a token), a form that makes one and shows its link once on the
// page it answers with, and a revoke button per link. The hub decides who
// may (the job's owner and whoever may cancel it) and checks the values.

// sharesOf lists job j's share links for the page, or nil when the job
// has none to show or the caller may not see them.
func (p *Portal) sharesOf(r *http.Request, s *session, d *jobData) []structs.ShareInfo {
	if !d.Interactive || d.Job.State != structs.JobRunning {
		return nil
	}
	list, err := p.api.ListShares(withIdentity(r.Context(), s.id), d.Job.ID)
	if err != nil {
		return nil
	}
	return list
}

// jobShareCreate makes a share link and answers with the job page showing
// it: the only time its link is shown.
func (p *Portal) jobShareCreate(w http.ResponseWriter, r *http.Request, s *session) error {
	j, err := p.jobOf(r, s)
	if err != nil {
		return err
	}
	made, err := p.api.CreateShare(withIdentity(r.Context(), s.id), j.ID, &structs.ShareCreateRequest{
		Label: r.FormValue("label"), ExpiresIn: r.FormValue("expires_in")})
	if err != nil {
		return err
	}
	d, err := p.jobData(r, s)
	if err != nil {
		return err
	}
	d.Script = p.scriptOf(r, s, d.Job)
	d.NewShare = made
	w.Header().Set("Cache-Control", "no-store")
	return p.render(w, http.StatusOK, "job.html", p.newView(s, "Job "+d.Job.Name, "jobs", d))
}

// jobShareRevoke revokes one share link.
func (p *Portal) jobShareRevoke(w http.ResponseWriter, r *http.Request, s *session) error {
	j, err := p.jobOf(r, s)
	if err != nil {
		return err
	}
	if _, err := p.api.RevokeShare(withIdentity(r.Context(), s.id), j.ID, r.PathValue("name")); err != nil {
		return err
	}
	http.Redirect(w, r, Prefix+"/jobs/"+j.ID, http.StatusSeeOther)
	return nil
}
