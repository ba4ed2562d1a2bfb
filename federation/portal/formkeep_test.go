package portal_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// post sends a multipart form (the submit form's encoding) with an
// optional file.
func (b *browser) post(path string, fields map[string]string, fileField, fileName string, content []byte) (int, string, http.Header) {
	b.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	if fileField != "" {
		fw, _ := w.CreateFormFile(fileField, fileName)
		_, _ = fw.Write(content)
	}
	_ = w.Close()
	req, _ := http.NewRequest("POST", b.base+path, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return b.send(req)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)

// TestSubmitFormKeepsUploadAndPlacesHubErrors: a form that comes back
// with an error keeps the chosen UPLOAD file (in hidden fields, said
// next to the field) and a resubmission without choosing it again runs
// the job with it, base64 as the API takes it; a file over the bound is
// refused beside its field; the hub's refusal of a dependency on a job
// the user may not see shows beside the dependency field, as the form's
// own checks do.
func TestSubmitFormKeepsUploadAndPlacesHubErrors(t *testing.T) {
	ctx, hubs, adm := startHubs(t, 1)
	seedUser(ctx, t, adm, "acme", "ann")
	seedUser(ctx, t, adm, "globex", "gus")
	var def structs.AppDef
	if err := json.Unmarshal([]byte(`{"name":"Mesher","machines":["n*"],"commands":{"run":{"path":"/opt/mesh","name":"Run","parameters":{
		"cfg":{"name":"Settings","type":"UPLOAD","target":"mesh.cfg","size":300000,"required":true},
		"n":{"name":"Cells","type":"INT","min":1,"max":10,"value":5,"required":true}}}}}`), &def); err != nil {
		t.Fatal(err)
	}
	seedCatalog(ctx, t, adm, structs.MachineType{Name: "n3", Cores: 4, Slots: 4, RAM: 16, ScaleMax: 2},
		structs.App{Name: "mesher", Visibility: structs.VisibilityPublic, Image: "mesh:1", AppDef: def})
	gc := userClient(ctx, t, hubs, adm, "gus")
	other, err := gc.SubmitJob(ctx, structs.JobSubmitRequest{App: "mesher", Command: "run", MachineType: "n3", Nodes: 1,
		Parameters: map[string]string{"cfg": base64.StdEncoding.EncodeToString([]byte("x"))}})
	if err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, hubs.URL(0))
	csrf := b.login("ann", "pw-ann-secret")
	_, page, _ := b.do("GET", "/ui/apps/mesher/submit?command=run", nil)
	jobID := regexp.MustCompile(`name="job_id" value="([^"]+)"`).FindStringSubmatch(page)[1]
	form := map[string]string{"csrf": csrf, "command": "run", "job_id": jobID, "machine_type": "n3", "nodes": "1", "p.n": "11"}
	content := []byte("cells = 5\nrefine = yes\n")

	// an error elsewhere: the file comes back kept
	code, page, _ := b.post("/ui/apps/mesher/submit", form, "p.cfg", "mesh.cfg", content)
	if code != http.StatusBadRequest || !strings.Contains(page, "Cells must be between 1 and 10.") {
		t.Fatalf("bad cells: %d\n%s", code, page)
	}
	kept := map[string]string{}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		kept[m[1]] = strings.ReplaceAll(m[2], "&#43;", "+")
	}
	if kept["upload.cfg"] != base64.StdEncoding.EncodeToString(content) || kept["upload_name.cfg"] != "mesh.cfg" {
		t.Fatalf("the upload was not kept: %v", kept)
	}
	if !strings.Contains(page, "Kept from your last try: mesh.cfg (23 bytes).") {
		t.Error("the page does not say it kept the file")
	}
	if strings.Count(strings.ReplaceAll(page, "&#43;", "+"), kept["upload.cfg"]) != 1 || !strings.Contains(page, "(base64 of mesh.cfg, 23 bytes)") {
		t.Error("the preview shows the file's contents, or does not name the file")
	}

	// a dependency on a job ann may not see: beside the field
	form["p.n"] = "6"
	form["upload.cfg"], form["upload_name.cfg"] = kept["upload.cfg"], kept["upload_name.cfg"]
	form["dependency"] = "afterok:" + other.ID
	code, page, _ = b.post("/ui/apps/mesher/submit", form, "", "", nil)
	dep := regexp.MustCompile(`id="e-dependency"[^>]*>([^<]*)<`).FindStringSubmatch(page)
	if code != http.StatusBadRequest || dep == nil || !strings.Contains(dep[1], "not found") {
		t.Fatalf("dependency on another's job: %d, message beside the field %q\n%s", code, dep, page)
	}
	if strings.Contains(page, "The hub refused the job: ") {
		t.Error("the dependency refusal is also shown above the form")
	}

	// resubmitted without choosing the file again: the job gets it
	delete(form, "dependency")
	code, _, h := b.post("/ui/apps/mesher/submit", form, "", "", nil)
	if code != http.StatusSeeOther {
		t.Fatalf("resubmission: %d", code)
	}
	j, err := adm.GetJob(ctx, strings.TrimPrefix(h.Get("Location"), "/ui/jobs/"), false)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := base64.StdEncoding.DecodeString(j.Parameters["cfg"]); !bytes.Equal(got, content) {
		t.Errorf("the job's upload %q, want the file %q", j.Parameters["cfg"], content)
	}

	// a file over the bound is refused beside its field
	form["job_id"] = strings.Replace(jobID, "j-", "j-x", 1)
	delete(form, "upload.cfg")
	code, page, _ = b.post("/ui/apps/mesher/submit", form, "p.cfg", "huge.cfg", bytes.Repeat([]byte("a"), 256<<10+1))
	msg := regexp.MustCompile(`id="e-cfg"[^>]*>([^<]*)<`).FindStringSubmatch(page)
	if code != http.StatusBadRequest || msg == nil || msg[1] != "Settings: the file is larger than 256 KiB." {
		t.Errorf("a file over the bound: %d %q", code, msg)
	}
}
