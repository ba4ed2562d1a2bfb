package runtime

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// TestRecordFinalOnTheObservedSecret: the final state goes on the job
// Secret the runner observed, an immutable Secret, and only on it: a
// Secret made anew under the same name (another run) is left alone.
func TestRecordFinalOnTheObservedSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real control plane (FLOTILLA_BIN tools); skipped in -short")
	}
	env := k8senv.Start(t, k8senv.Options{Name: "record", NoControllerManager: true})
	// The deadline covers the test's own calls, not the control plane's
	// start (k8senv has its own; over a minute on a loaded machine).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := env.CreateNamespace(ctx, "jobs"); err != nil {
		t.Fatal(err)
	}
	api := env.Client.CoreV1().Secrets("jobs")
	mk := func() *corev1.Secret {
		s, err := api.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "j9"}, Immutable: new(true),
			Data: map[string][]byte{"id_ed25519": []byte("key")}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := mk()
	r := &Reconciler{Client: env.Client}
	f := &Final{State: structs.JobCompleted, Substatus: "head exited 0", LogTail: "done\n", Time: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	tr := &tracked{view: jobView{final: f}}
	if err := r.recordFinal(ctx, first, tr); err != nil || !tr.view.recorded {
		t.Fatalf("recordFinal: %v (recorded %v)", err, tr.view.recorded)
	}
	got, err := api.Get(ctx, "j9", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rec := decodeFinal(got.Annotations[podgroup.AnnotFinal]); rec.State != f.State || rec.LogTail != f.LogTail || !rec.Time.Equal(f.Time) {
		t.Errorf("recorded %+v, want %+v", rec, f)
	}
	if string(got.Data["id_ed25519"]) != "key" {
		t.Errorf("secret data changed: %q", got.Data)
	}
	// Another Secret under the same name: the stale observation is refused.
	if err := api.Delete(ctx, "j9", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	mk()
	tr2 := &tracked{view: jobView{final: f}}
	err = r.recordFinal(ctx, first, tr2)
	if err == nil || tr2.view.recorded {
		t.Fatalf("recordFinal on a replaced Secret: %v (recorded %v), want a refusal", err, tr2.view.recorded)
	}
	if !apierrors.IsInvalid(err) { // metadata.uid cannot change: the patch names another object
		t.Errorf("refused with %v, want the uid refused", err)
	}
	if s, _ := api.Get(ctx, "j9", metav1.GetOptions{}); s.Annotations[podgroup.AnnotFinal] != "" {
		t.Errorf("the new run's Secret got the old run's end")
	}
}
