package portal

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// maxListed bounds the rows of the jobs page (newest first).
const maxListed = 1000

// jobsQuery reads the jobs page's filters.
func jobsQuery(r *http.Request) (client.JobQuery, error) {
	q := r.URL.Query()
	jq := client.JobQuery{State: structs.JobState(q.Get("state")), Active: q.Get("active") == "on", Limit: 10000}
	if jq.State != "" && !jq.State.Valid() {
		return jq, structs.Errorf(structs.ErrInvalid, "state %q", jq.State)
	}
	return jq, nil
}

// listJobs reads every job the caller may see that the filter selects,
// newest first, at most maxListed.
func (p *Portal) listJobs(ctx context.Context, s *session, jq client.JobQuery) ([]*structs.Job, error) {
	ctx = withIdentity(ctx, s.id)
	var all []*structs.Job
	for {
		page, err := p.api.ListJobs(ctx, jq)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Jobs...)
		if page.Next == 0 {
			break
		}
		jq.After = page.Next
	}
	slices.Reverse(all)
	if len(all) > maxListed {
		all = all[:maxListed]
	}
	return all, nil
}

// jobsData is what the jobs page and its live rows show.
type jobsData struct {
	Rows   template.HTML
	State  string
	Active bool
	States []structs.JobState
}

// rowsOf renders the table rows of jobs at now (the hub's clock). A page
// may list a thousand jobs and refresh live, so the rows are written
// directly (every value escaped) rather than through reflection in
// html/template.
func rowsOf(jobs []*structs.Job, now time.Time) template.HTML {
	if len(jobs) == 0 {
		return `<tr><td colspan="8">No jobs yet. Start one from the <a href="/ui/catalog">catalog</a>.</td></tr>`
	}
	var b strings.Builder
	b.Grow(len(jobs) * 400)
	esc := html.EscapeString
	for _, j := range jobs {
		bd := badgeOf(j.State)
		id := esc(j.ID)
		b.WriteString(`<tr id="job-`)
		b.WriteString(id)
		b.WriteString(`"><td><a href="/ui/jobs/`)
		b.WriteString(url.PathEscape(j.ID))
		b.WriteString(`">`)
		b.WriteString(esc(j.Name))
		b.WriteString(`</a>`)
		if j.Label != "" {
			b.WriteString(` <span class="help">`)
			b.WriteString(esc(j.Label))
			b.WriteString(`</span>`)
		}
		fmt.Fprintf(&b, `</td><td>%s</td><td><span class="state %s"><span aria-hidden="true">%s</span> %s</span></td><td>%s</td><td>%s</td><td>%d</td><td>%s</td>`,
			esc(j.App), bd.Class, bd.Symbol, esc(string(j.State)), esc(j.Cluster), esc(j.MachineType), j.Nodes, when(j.SubmitTime))
		d, running := j.RunTime(now)
		if running {
			// the page's script counts it on between updates
			fmt.Fprintf(&b, `<td class="run-time" data-elapsed="%d">%s</td></tr>`+"\n", int64(d/time.Second), structs.SqueueTime(d))
		} else {
			fmt.Fprintf(&b, `<td class="run-time">%s</td></tr>`+"\n", structs.SqueueTime(d))
		}
	}
	return template.HTML(b.String())
}

var allStates = []structs.JobState{structs.JobSubmitted, structs.JobHeld, structs.JobQueued, structs.JobAssigned,
	structs.JobStarting, structs.JobRunning, structs.JobCompleted, structs.JobCompletedWithError,
	structs.JobCanceled, structs.JobTerminated}

func (p *Portal) jobsData(r *http.Request, s *session) (*jobsData, error) {
	jq, err := jobsQuery(r)
	if err != nil {
		return nil, err
	}
	jobs, err := p.listJobs(r.Context(), s, jq)
	if err != nil {
		return nil, err
	}
	return &jobsData{Rows: rowsOf(jobs, p.hub.Now()), State: string(jq.State), Active: jq.Active, States: allStates}, nil
}

func (p *Portal) jobsPage(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := p.jobsData(r, s)
	if err != nil {
		return err
	}
	return p.render(w, http.StatusOK, "jobs.html", p.newView(s, "Jobs", "jobs", d))
}

// jobsRows is the polling fallback: the table body alone.
func (p *Portal) jobsRows(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := p.jobsData(r, s)
	if err != nil {
		return err
	}
	return p.fragment(w, "jobs.html", "jobrows", p.newView(s, "", "", d))
}

// jobsEvents streams the table body whenever the jobs change.
func (p *Portal) jobsEvents(w http.ResponseWriter, r *http.Request, s *session) error {
	return p.stream(w, r, "rows", func() ([]byte, error) {
		d, err := p.jobsData(r, s)
		if err != nil {
			return nil, err
		}
		return p.fragmentBytes("jobs.html", "jobrows", p.newView(s, "", "", d))
	})
}

// jobOf reads a job the caller may see; other jobs are not found.
func (p *Portal) jobOf(r *http.Request, s *session) (*structs.Job, error) {
	id := r.PathValue("id")
	j, err := p.api.GetJob(withIdentity(r.Context(), s.id), id, false)
	if err != nil {
		return nil, hidden(err, "job "+id)
	}
	return j, nil
}

// jobData is the job page.
type jobData struct {
	Job         *structs.Job
	Badge       stateBadge
	Where, Why  string
	Timeline    []timelineEntry
	Final       bool
	Interactive bool
	ConnectURL  string
	// Dependency lists the conditions of the job's dependency with the
	// earlier jobs' states; EnvNames its variables' names (never values).
	Dependency []depCondition
	EnvNames   string
	// Script is the job script of a script job (job page only).
	Script *scriptView
	// Shares are a running interactive job's share links (shares.go);
	// NewShare the one just made, its link shown once.
	Shares   []structs.ShareInfo
	NewShare *structs.ShareCreated
}

func (p *Portal) jobData(r *http.Request, s *session) (*jobData, error) {
	j, err := p.jobOf(r, s)
	if err != nil {
		return nil, err
	}
	d := &jobData{Job: j, Badge: badgeOf(j.State), Timeline: timelineOf(j), Final: j.State.IsTerminal()}
	d.Where, d.Why = placementOf(j)
	d.EnvNames = envNames(j.Env)
	if j.Dependency != nil {
		d.Dependency = depConditions(j.Dependency, p.dependencyOf(r.Context(), s, j.Dependency))
		if j.WaitsForDependency() {
			d.Why = "held: " + waitingText(j.Dependency, d.Dependency)
		}
	}
	if a, err := p.api.GetApp(withIdentity(r.Context(), s.id), j.App); err == nil {
		if c, ok := a.AppDef.Commands[j.Command]; ok && c.Interactive {
			d.Interactive = true
			d.ConnectURL = connectURL(j)
		}
	}
	d.Shares = p.sharesOf(r, s, d)
	return d, nil
}

func (p *Portal) jobPage(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := p.jobData(r, s)
	if err != nil {
		return err
	}
	d.Script = p.scriptOf(r, s, d.Job)
	return p.render(w, http.StatusOK, "job.html", p.newView(s, "Job "+d.Job.Name, "jobs", d))
}

func (p *Portal) jobStatus(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := p.jobData(r, s)
	if err != nil {
		return err
	}
	return p.fragment(w, "job.html", "jobstatus", p.newView(s, "", "", d))
}

func (p *Portal) jobEvents(w http.ResponseWriter, r *http.Request, s *session) error {
	if _, err := p.jobOf(r, s); err != nil {
		return err
	}
	return p.stream(w, r, "status", func() ([]byte, error) {
		d, err := p.jobData(r, s)
		if err != nil {
			return nil, err
		}
		return p.fragmentBytes("job.html", "jobstatus", p.newView(s, "", "", d))
	})
}

// jobCancel cancels a job that has not started, or terminates it.
func (p *Portal) jobCancel(w http.ResponseWriter, r *http.Request, s *session) error {
	j, err := p.jobOf(r, s)
	if err != nil {
		return err
	}
	ctx := withIdentity(r.Context(), s.id)
	if j.State == structs.JobStarting || j.State == structs.JobRunning {
		_, err = p.api.TerminateJob(ctx, j.ID, "terminated by "+s.id.Username+" in the portal")
	} else {
		_, err = p.api.CancelJob(ctx, j.ID, "canceled by "+s.id.Username+" in the portal")
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, Prefix+"/jobs/"+j.ID, http.StatusSeeOther)
	return nil
}

// jobSignal sends a signal to a running job (the job page's form): the
// hub decides who may and what is a signal.
func (p *Portal) jobSignal(w http.ResponseWriter, r *http.Request, s *session) error {
	j, err := p.jobOf(r, s)
	if err != nil {
		return err
	}
	scope := structs.SignalAll
	if r.FormValue("scope") == string(structs.SignalBatch) {
		scope = structs.SignalBatch
	}
	if _, err := p.api.SignalJob(withIdentity(r.Context(), s.id), j.ID, r.FormValue("signal"), scope); err != nil {
		return err
	}
	http.Redirect(w, r, Prefix+"/jobs/"+j.ID, http.StatusSeeOther)
	return nil
}

// stream sends render's output as a server-sent event named event now
// and after every change of the jobs table, with a comment every 15 s to
// keep proxies from closing the stream, until the client goes away.
func (p *Portal) stream(w http.ResponseWriter, r *http.Request, event string, render func() ([]byte, error)) error {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(p.stopped, cancel)()
	var last []byte
	for {
		index := p.hub.Store().Read().Index(state.TableJobs)
		body, err := render()
		if err != nil {
			fmt.Fprintf(w, "event: error\ndata: %s\n\n", strings.ReplaceAll(err.Error(), "\n", " "))
			_ = rc.Flush()
			return nil
		}
		if !bytes.Equal(body, last) {
			_ = rc.SetWriteDeadline(p.wall().Add(time.Minute))
			fmt.Fprintf(w, "event: %s\n", event)
			for line := range bytes.SplitSeq(body, []byte("\n")) {
				fmt.Fprintf(w, "data: %s\n", line)
			}
			fmt.Fprint(w, "\n")
			if err := rc.Flush(); err != nil {
				return nil
			}
			last = body
		}
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		_, err = p.hub.Store().WaitForIndex(wctx, state.TableJobs, index)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			_ = rc.SetWriteDeadline(p.wall().Add(time.Minute))
			fmt.Fprint(w, ": keep-alive\n\n")
			if rc.Flush() != nil {
				return nil
			}
		}
	}
}

// fragment writes one named template of a page (for polling).
func (p *Portal) fragment(w http.ResponseWriter, page, name string, v *view) error {
	b, err := p.fragmentBytes(page, name, v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
	return nil
}

func (p *Portal) fragmentBytes(page, name string, v *view) ([]byte, error) {
	var buf bytes.Buffer
	if err := p.tmpl[page].ExecuteTemplate(&buf, name, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
