package runtime

import (
	"encoding/base64"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestRenderCmdScript: a command whose AppDef carries its script
// (cmdscript, base64) runs it from its path: the job Secret holds the
// decoded script, and every pod mounts it at the path, executable and
// read-only, as JARVICE writes it there; the argv is the path as before.
// A command without one mounts nothing there.
func TestRenderCmdScript(t *testing.T) {
	const script = "#!/bin/sh\necho from the AppDef\n"
	tc := goldenCases()["multinode"]
	in := tc.in
	in.Random = fixedRandom()
	var cmd structs.Command
	doc := `{"path": "/usr/local/bin/start.sh", "name": "Run", "description": "d", "cmdscript": "` +
		base64.StdEncoding.EncodeToString([]byte(script)) + `", "parameters": {}}`
	if err := cmd.UnmarshalJSON([]byte(doc)); err != nil {
		t.Fatal(err)
	}
	in.Command = cmd
	job := *in.Job
	job.Parameters = nil
	in.Job = &job
	objs, err := Render(in, tc.opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(objs.Secret.Data[cmdScriptKey]); got != script {
		t.Errorf("job Secret %s = %q, want the decoded script", cmdScriptKey, got)
	}
	for rank, p := range objs.Pods {
		var item *corev1.KeyToPath
		for _, v := range p.Spec.Volumes {
			if v.Name == volAppFiles && v.Secret != nil {
				for i := range v.Secret.Items {
					if v.Secret.Items[i].Key == cmdScriptKey {
						item = &v.Secret.Items[i]
					}
				}
			}
		}
		if item == nil || item.Mode == nil || *item.Mode != 0o555 {
			t.Errorf("pod %d: the script's volume item %+v, want mode 0555", rank, item)
		}
		mounted := false
		for _, m := range p.Spec.Containers[0].VolumeMounts {
			mounted = mounted || (m.Name == volAppFiles && m.SubPath == cmdScriptKey && m.MountPath == "/usr/local/bin/start.sh" && m.ReadOnly)
		}
		if !mounted {
			t.Errorf("pod %d mounts %+v: want the script at /usr/local/bin/start.sh", rank, p.Spec.Containers[0].VolumeMounts)
		}
	}

	plain := goldenCases()["multinode"].in
	plain.Random = fixedRandom()
	objs, err = Render(plain, tc.opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := objs.Secret.Data[cmdScriptKey]; ok {
		t.Error("a command without a cmdscript got one in its Secret")
	}
}
