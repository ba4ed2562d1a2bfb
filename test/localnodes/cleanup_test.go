package localnodes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

const ns = "work"

// TestLocalNodeCleanup runs real pods on local nodes and checks that they
// run as their spec says (volumes, environment, user, exit code, logs
// through the API server), that a clean stop leaves no namespace, mount,
// process or file of them, and that after a SIGKILL the next start removes
// what the dead process left and fails (never restarts) the pods it ran.
func TestLocalNodeCleanup(t *testing.T) {
	needLocalNodes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	env := k8senv.Start(t, k8senv.Options{Name: "localnode"})
	if err := env.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	id := randomHex(t, 3)
	marker := "flotilla-cleanup-" + id
	ln, err := Start(ctx, env.Client, Options{
		Name: "c", Nodes: []string{"ln-0", "ln-1"}, Prefix: "flc" + id, Subnet: "10.215.0.0/24",
		Kubeconfig: env.Kubeconfig, ClientCA: env.CAFile, Dir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("flotilla-localnode log:\n%s", ln.Tail(80))
		}
		ln.Remove()
	})
	createObjects(ctx, t, env)

	// Pods run as their spec says.
	runner := createPod(ctx, t, env, sleeper("runner", "ln-0", marker))
	failing := createPod(ctx, t, env, exiter("exits3", "ln-1", 3))
	runner = waitRunning(ctx, t, env, runner.Name)
	out := waitLog(ctx, t, env, runner.Name, "ready")
	for _, want := range []string{
		"secret=s3cr3t", "cfg=alpha", "mode=440", "ip=" + runner.Status.PodIP, "name=runner", "ns=" + ns,
		"tok=s3cr3t", "uid=1234", "gid=1234", "host=runner", "label=demo", "peers=1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("pod output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "groups=") || !slices.Contains(strings.Fields(after(out, "groups=")), "2345") {
		t.Errorf("fsGroup 2345 is not among the groups:\n%s", out)
	}
	failed := waitPod(ctx, t, env, failing.Name, k8senv.InPhase(corev1.PodFailed))
	if code := exitCodeOf(failed); code != 3 {
		t.Errorf("exits3: exit code %d, want 3", code)
	}
	if left := ln.Leftovers(marker); len(left) == 0 {
		t.Fatal("a running pod left no trace the check could see: the check is blind")
	}

	// A clean stop removes everything.
	ln.Stop()
	if left := ln.Leftovers(marker); len(left) > 0 {
		t.Errorf("after a clean stop, left: %v", left)
	}

	// Started again, it fails the pod it ran before: nothing is restarted.
	if err := ln.Restart(ctx, env.Client); err != nil {
		t.Fatal(err)
	}
	runner = waitPod(ctx, t, env, runner.Name, k8senv.InPhase(corev1.PodFailed))
	if runner.Status.Reason != "NodeRestarted" {
		t.Errorf("runner after the restart: reason %q, want NodeRestarted", runner.Status.Reason)
	}

	// SIGKILL with a pod running: the next start cleans up.
	second := createPod(ctx, t, env, sleeper("second", "ln-1", marker))
	second = waitRunning(ctx, t, env, second.Name)
	ln.Kill()
	left := ln.Leftovers("")
	if !slices.ContainsFunc(left, func(s string) bool { return strings.HasPrefix(s, "mount ") }) ||
		!slices.ContainsFunc(left, func(s string) bool { return strings.HasPrefix(s, "network namespace ") }) {
		t.Errorf("after SIGKILL, expected the dead process's namespaces and mounts, found %v", left)
	}
	if err := ln.Restart(ctx, env.Client); err != nil {
		t.Fatal(err)
	}
	// What the new process holds itself: its switch namespace and pods tmpfs.
	// The pod the dead process ran is failed, not run again: a sandbox the
	// new process began for it before it read its state must go too.
	want := []string{"mount " + ln.StateDir + "/pods", "network namespace " + ln.Opts.Prefix + "sw"}
	left = ln.Leftovers(marker)
	for deadline := time.Now().Add(20 * time.Second); !slices.Equal(sortedCopy(left), want) && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		left = ln.Leftovers(marker)
	}
	if !slices.Equal(sortedCopy(left), want) {
		pods, _ := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		var desc []string
		for _, p := range pods.Items {
			desc = append(desc, fmt.Sprintf("%s %s %s %s", p.Name, p.UID, p.Status.Phase, p.Status.Reason))
		}
		t.Errorf("after SIGKILL and a new start, found %v, want only the new process's own %v; pods: %v", left, want, desc)
	}
	second = waitPod(ctx, t, env, second.Name, k8senv.InPhase(corev1.PodFailed))
	if second.Status.Reason != "NodeRestarted" {
		t.Errorf("second after the SIGKILL: reason %q, want NodeRestarted", second.Status.Reason)
	}
	ln.Stop()
	if left := ln.Leftovers(marker); len(left) > 0 {
		t.Errorf("after the last clean stop, left: %v", left)
	}
}

func createObjects(ctx context.Context, t *testing.T, env *k8senv.Env) {
	t.Helper()
	if _, err := env.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "s"}, Data: map[string][]byte{"token": []byte("s3cr3t")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: map[string]string{"nodes": "alpha\n"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// sleeper reports what it sees, then sleeps; marker is in its command line.
func sleeper(name, node, marker string) *corev1.Pod {
	script := `echo "secret=$(cat /etc/secret/token) cfg=$(cat /etc/cfg/nodes) mode=$(stat -c %a /etc/secret/token)"
echo "ip=$POD_IP name=$POD_NAME ns=$POD_NS tok=$TOKEN uid=$(id -u) gid=$(id -g) host=$(hostname) label=$(cat /etc/podinfo/app)"
echo "groups=$(id -G) peers=$(grep -c "$POD_NAME" /etc/hosts)"
touch /scratch/ok && echo ready
exec sleep 600`
	uid, gid, fsg := int64(1234), int64(1234), int64(2345)
	mode := int32(0o440)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "demo"}},
		Spec: corev1.PodSpec{
			NodeName: node, RestartPolicy: corev1.RestartPolicyNever,
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: &uid, RunAsGroup: &gid, FSGroup: &fsg},
			Containers: []corev1.Container{{
				Name: "main", Image: "host", Command: []string{"/bin/sh", "-c", script, marker},
				Env: []corev1.EnvVar{
					{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "POD_NS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
					{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
						LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "token"}}},
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "secret", MountPath: "/etc/secret", ReadOnly: true},
					{Name: "cfg", MountPath: "/etc/cfg/nodes", SubPath: "nodes", ReadOnly: true},
					{Name: "scratch", MountPath: "/scratch"},
					{Name: "podinfo", MountPath: "/etc/podinfo"},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s", DefaultMode: &mode}}},
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "c"}}}},
				{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
					Items: []corev1.DownwardAPIVolumeFile{{Path: "app", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}}}}},
			},
		},
	}
}

// exiter prints a line and exits with code.
func exiter(name, node string, code int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			NodeName: node, RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "main", Image: "host",
				Command: []string{"/bin/sh", "-c", "echo bye; exit " + string(rune('0'+code))}}},
		},
	}
}

func createPod(ctx context.Context, t *testing.T, env *k8senv.Env, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	got, err := env.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func waitPod(ctx context.Context, t *testing.T, env *k8senv.Env, name string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	p, err := env.WaitPod(ctx, ns, name, cond)
	if err != nil {
		t.Fatalf("pod %s: %v (status %+v)", name, err, p.Status)
	}
	return p
}

// waitRunning waits until the pod runs, failing at once if it ends instead.
func waitRunning(ctx context.Context, t *testing.T, env *k8senv.Env, name string) *corev1.Pod {
	t.Helper()
	p := waitPod(ctx, t, env, name, func(p *corev1.Pod) bool { return p.Status.Phase != corev1.PodPending })
	if p.Status.Phase != corev1.PodRunning {
		t.Fatalf("pod %s ended %s instead of running: %s %s", name, p.Status.Phase, p.Status.Reason, p.Status.Message)
	}
	return p
}

// waitLog reads the pod's log through the API server (which asks the
// node's kubelet endpoint) until it holds line.
func waitLog(ctx context.Context, t *testing.T, env *k8senv.Env, pod, line string) string {
	t.Helper()
	var last string
	var lastErr error
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		b, err := env.Client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: "main"}).DoRaw(ctx)
		if err == nil {
			last = string(b)
			if strings.Contains(last, "\n"+line+"\n") || strings.HasPrefix(last, line+"\n") {
				return last
			}
		}
		lastErr = err
		select {
		case <-ctx.Done():
			t.Fatalf("log of %s never showed %q (last error %v):\n%s", pod, line, lastErr, last)
		case <-tick.C:
		}
	}
}

func exitCodeOf(p *corev1.Pod) int {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Terminated != nil {
			return int(cs.State.Terminated.ExitCode)
		}
	}
	return -1
}

func after(s, prefix string) string {
	_, rest, _ := strings.Cut(s, prefix)
	line, _, _ := strings.Cut(rest, "\n")
	return line
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
