package runtime

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Share links of interactive jobs: the hub keeps them on the job
// (Job.Shares: names, token hashes, expiry); the agent writes the live
// ones into the job's shares Secret (ShareSecretName), one key per link,
// its value the token's hash and, for a link that ends, " expires=" and
// the time (RFC 3339). The head's token guard reads the mounted Secret on
// every check (initproc.Guard) and lets in a token whose hash is there and
// not expired. The Secret is the runner's: keys the hub does not list are
// removed, and it is owned by the job Secret, so it goes with the job.

// noSharesWritten marks a job whose shares Secret the runner has not
// looked at yet (a restarted runner writes it once whatever it holds).
const noSharesWritten = "\x00unset"

// ShareSecretData is the shares Secret's data for links at now: the live
// ones only.
func ShareSecretData(links []structs.JobShare, now time.Time) map[string][]byte {
	data := map[string][]byte{}
	for i := range links {
		l := &links[i]
		if !l.Live(now) || l.TokenHash == "" {
			continue
		}
		v := l.TokenHash
		if l.Expires != nil {
			v += " expires=" + l.Expires.UTC().Format(time.RFC3339)
		}
		data[l.Name] = []byte(v)
	}
	return data
}

// fingerprint is data as one comparable string.
func fingerprint(data map[string][]byte) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(data)) {
		b.WriteString(k + "=" + string(data[k]) + "\n")
	}
	return b.String()
}

// syncShares brings a running interactive job's shares Secret to the
// hub's list, when it changed (or a link expired) since the last write.
// job is the job Secret, the shares Secret's owner.
func (r *Reconciler) syncShares(ctx context.Context, t *tracked, job *corev1.Secret) {
	if !t.in.Command.Interactive || job == nil {
		return
	}
	r.mu.Lock()
	data := ShareSecretData(t.shares, r.Now())
	done := t.sharesWritten
	r.mu.Unlock()
	want := fingerprint(data)
	if want == done {
		return
	}
	name := ShareSecretName(t.in.Job.Number)
	api := r.Client.CoreV1().Secrets(job.Namespace)
	cur, err := api.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) && len(data) == 0:
		err = nil
	case apierrors.IsNotFound(err):
		_, err = api.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: job.Namespace,
				Labels:          map[string]string{podgroup.LabelJob: job.Labels[podgroup.LabelJob]},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Secret", Name: job.Name, UID: job.UID}}},
			Type: corev1.SecretTypeOpaque, Data: data,
		}, metav1.CreateOptions{})
	case err == nil && fingerprint(cur.Data) != want:
		cur.Data, cur.StringData = data, nil
		_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
	}
	if err != nil {
		t.log.Warn("share links not written", "secret", name, "err", err)
		return
	}
	r.mu.Lock()
	t.sharesWritten = want
	r.mu.Unlock()
	t.log.Info("share links written", "secret", name, "links", slices.Sorted(maps.Keys(data)))
}
