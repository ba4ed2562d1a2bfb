package runtime

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestRenderArrayCancelFile: an array job's head, and only its head, gets
// the downward-API volume of the canceled-tasks and output-requests
// annotations, mounted whole (no subPath, so updates reach it), and
// flotilla-init reads their files.
func TestRenderArrayCancelFile(t *testing.T) {
	c := goldenCases()["multinode"]
	in := c.in
	job := *in.Job
	job.Array = &structs.ArrayJob{Spec: structs.ArraySpec{Start: 1, End: 100}}
	in.Job = &job
	in.Random = fixedRandom()
	objs, err := Render(in, c.opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.Pods) < 2 {
		t.Fatalf("%d pods, want a head and workers", len(objs.Pods))
	}
	for i, p := range objs.Pods {
		head := i == 0
		hasVol := slices.ContainsFunc(p.Spec.Volumes, func(v corev1.Volume) bool {
			return v.Name == volArrayControl && v.DownwardAPI != nil && len(v.DownwardAPI.Items) == 2 &&
				v.DownwardAPI.Items[0].FieldRef.FieldPath == "metadata.annotations['"+AnnotCancelTasks+"']" &&
				v.DownwardAPI.Items[1].FieldRef.FieldPath == "metadata.annotations['"+AnnotOutputTasks+"']"
		})
		c := p.Spec.Containers[0]
		hasMount := slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
			return m.Name == volArrayControl && m.MountPath == ArrayControlDir && m.SubPath == ""
		})
		k := slices.Index(c.Args, "--array-cancel-file")
		o := slices.Index(c.Args, "--array-output-file")
		hasFlag := k >= 0 && c.Args[k+1] == ArrayCancelPath && k < slices.Index(c.Args, "--") &&
			o >= 0 && c.Args[o+1] == ArrayOutputPath && o < slices.Index(c.Args, "--")
		if hasVol != head || hasMount != head || hasFlag != head {
			t.Errorf("pod %d (head %v): volume %v, mount %v, flag %v", i, head, hasVol, hasMount, hasFlag)
		}
	}
}

// TestRenderArrayList: every pod of an array job whose spec is an index
// list gets it on flotilla-init's command line in Slurm's form, which
// flotilla-init reads back as the same list.
func TestRenderArrayList(t *testing.T) {
	c := goldenCases()["multinode"]
	in := c.in
	job := *in.Job
	spec, err := structs.ParseArraySpec("7-9,3,1%2")
	if err != nil {
		t.Fatal(err)
	}
	job.Array = &structs.ArrayJob{Spec: spec}
	in.Job = &job
	in.Random = fixedRandom()
	objs, err := Render(in, c.opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range objs.Pods {
		args := p.Spec.Containers[0].Args
		k := slices.Index(args, "--array")
		if k < 0 || args[k+1] != "1,3,7-9%2" {
			t.Fatalf("pod %d: args %q", i, args)
		}
		back, err := structs.ParseArraySpec(args[k+1])
		if err != nil || back.String() != spec.String() || back.Count() != 5 {
			t.Errorf("pod %d: %q reads back as %v, %v", i, args[k+1], back, err)
		}
	}
}
