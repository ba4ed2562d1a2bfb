package runtime

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDevices(t *testing.T) {
	d, err := parseDevices([]string{"$OMP_NUM_THREADS=8", "/scratch=/scratch:rw", "nfs:filer.example:/exports/apps=/opt/apps:ro", "gpu"})
	if err != nil {
		t.Fatal(err)
	}
	want := []hostBind{
		{host: "/scratch", ctr: "/scratch"},
		{host: "/exports/apps", ctr: "/opt/apps", readOnly: true, nfsServer: "filer.example"},
	}
	if diff := cmp.Diff(want, d.binds, cmp.AllowUnexported(hostBind{})); diff != "" {
		t.Errorf("binds (-want +got):\n%s", diff)
	}
	if len(d.env) != 1 || d.env[0].Name != "OMP_NUM_THREADS" || d.env[0].Value != "8" {
		t.Errorf("env %+v", d.env)
	}
	for _, bad := range []string{"nfs:filer=/x", "nfs::/e=/x", "nfs:f:/e=rel", "/a=/b:rx", "$=1"} {
		if _, err := parseDevices([]string{bad}); err == nil {
			t.Errorf("parseDevices(%q) accepted", bad)
		}
	}
}
