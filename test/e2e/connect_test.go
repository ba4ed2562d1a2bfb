package e2e

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// jarviceGet calls a /jarvice endpoint by GET and returns status and body.
func jarviceGet(ctx context.Context, t *testing.T, base, endpoint string, args url.Values) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/jarvice/"+endpoint+"?"+args.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// TestInteractiveConnect: an interactive job run by a real agent on a real
// control plane reports its token-guarded URL; the hub keeps it on the
// job while it runs; /jarvice/connect answers it (address = the URL,
// password = the token of the job's Secret) and the portal's job page
// offers it as the Connect link. A batch job's connect is 400, a job that
// is not running 404 "Running job is not found", and the address is gone
// once the job ended.
func TestInteractiveConnect(t *testing.T) {
	if testing.Short() {
		t.Skip("needs real control planes (FLOTILLA_BIN tools); skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	f, key := startLabFed(ctx, t, 2, map[string]structs.Command{
		"run":   {Path: "/usr/bin/jupyter-lab", Name: "Lab", Interactive: true, Ports: []string{"8888/tcp"}, URL: "https://%PUBLICADDR%/lab"},
		"batch": {Path: "/opt/run.sh", Name: "Batch"},
	}, "pw-ann-secret")
	ann := f.clientFor(key.Key)
	auth := func(kv ...string) url.Values {
		v := url.Values{"username": {"ann"}, "apikey": {key.Key}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	base := f.hubs.URL(f.live())

	lab := submit(ctx, t, ann, "lab", "cpu", 1)
	batch, err := ann.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "lab", Command: "batch", MachineType: "cpu", Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	job := waitJob(ctx, t, ann, lab.ID, "running with its address", func(j *structs.Job) bool { return running(j) && j.ConnectURL != "" })
	waitJob(ctx, t, ann, batch.ID, "running", running)

	// The address is the one the agent built, with the job Secret's token.
	sec, err := f.envs["east"].Client.CoreV1().Secrets(podgroup.TenantNamespace(podgroup.DefaultNamespacePrefix, "acme")).
		Get(ctx, podgroup.JobName(job.Number), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token := string(sec.Data[runtime.TokenKey])
	if job.ConnectURL != string(sec.Data[runtime.URLKey]) || token == "" || !strings.HasPrefix(job.ConnectURL, "https://"+podgroup.JobName(job.Number)+".jobs.test/lab?") {
		t.Fatalf("job's connect URL %q; the agent's %q", job.ConnectURL, sec.Data[runtime.URLKey])
	}

	code, body := jarviceGet(ctx, t, base, "connect", auth("number", itoa(job.Number)))
	var conn map[string]any
	if err := json.Unmarshal(body, &conn); code != 200 || err != nil {
		t.Fatalf("connect: %d %s", code, body)
	}
	if conn["address"] != job.ConnectURL || conn["password"] != token || len(conn) != 2 {
		t.Errorf("connect = %v; want address %q and the job's token as password", conn, job.ConnectURL)
	}
	if code, body := jarviceGet(ctx, t, base, "connect", auth("name", job.Name)); code != 200 || !strings.Contains(string(body), token) {
		t.Errorf("connect by name: %d %s", code, body)
	}
	if code, body := jarviceGet(ctx, t, base, "connect", auth("number", itoa(batch.Number))); code != 400 || !strings.Contains(string(body), "interactive") {
		t.Errorf("connect of a batch job: %d %s; want 400 naming it not interactive", code, body)
	}

	// The portal's job page links Connect to it.
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	page := func(path string, form url.Values) string {
		var res *http.Response
		var err error
		if form == nil {
			res, err = hc.Get(base + path)
		} else {
			res, err = hc.PostForm(base+path, form)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, res.StatusCode, b)
		}
		return string(b)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page("/ui/login", nil))
	if csrf == nil {
		t.Fatal("no csrf token on the login page")
	}
	page("/ui/login", url.Values{"csrf": {csrf[1]}, "username": {"ann"}, "password": {"pw-ann-secret"}})
	link := regexp.MustCompile(`<a [^>]*id="connect" href="([^"]+)"`).FindStringSubmatch(page("/ui/jobs/"+job.ID, nil))
	if link == nil || html.UnescapeString(link[1]) != job.ConnectURL {
		t.Errorf("job page Connect link %v; want %q", link, job.ConnectURL)
	}

	// Ended: no address any more.
	if _, err := ann.CancelJob(ctx, job.ID, "done"); err != nil {
		t.Fatal(err)
	}
	ended := waitJob(ctx, t, ann, job.ID, "terminated", func(j *structs.Job) bool { return j.State.IsTerminal() })
	if ended.ConnectURL != "" {
		t.Errorf("ended job keeps its address %q", ended.ConnectURL)
	}
	if code, body := jarviceGet(ctx, t, base, "connect", auth("number", itoa(job.Number))); code != 404 || !strings.Contains(string(body), "Running job is not found") {
		t.Errorf("connect of an ended job: %d %s", code, body)
	}
	if strings.Contains(page("/ui/jobs/"+job.ID, nil), token) {
		t.Error("the ended job's page still shows its token")
	}
}

// startLabFed starts a hub and the cluster east (nodes of 16 cores, jobs
// under jobs.test) with tenant acme, machine type cpu (one node of east,
// up to all of them), the public app lab of commands and the user ann
// (password, when not empty): the interactive jobs' tests' federation. It
// returns ann's API key.
func startLabFed(ctx context.Context, t *testing.T, n int, commands map[string]structs.Command, password string) (*fed, *structs.APIKeyCreated) {
	t.Helper()
	f := startFed(t, 1, map[string][]k8senv.NodeSpec{"east": nodes("east", n, "16")})
	f.agentAdjust = func(cfg *agent.ClusterConfig) { cfg.Runtime.JobsDomain = "jobs.test" }
	f.addCluster(ctx, "east", nil)
	adm := f.admin
	if _, err := adm.PutTenant(ctx, &structs.Tenant{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutMachineType(ctx, &structs.MachineType{Name: "cpu", Cores: 16, Slots: 16, RAM: 32, Cluster: "east", ScaleMax: n}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutApp(ctx, &structs.App{Name: "lab", Visibility: structs.VisibilityPublic, Image: "lab:1",
		AppDef: structs.AppDef{Name: "lab", Commands: commands}}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutUser(ctx, "ann", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser, Password: password}); err != nil {
		t.Fatal(err)
	}
	key, err := adm.CreateAPIKey(ctx, "ann", "e2e")
	if err != nil {
		t.Fatal(err)
	}
	return f, key
}
