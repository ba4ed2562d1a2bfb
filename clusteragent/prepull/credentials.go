package prepull

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LabelCredential marks the Secrets holding the apps' pull credentials
// in the pull pods' namespace.
const LabelCredential = "flotilla.io/prepull-credential"

// credentialSecretName names the Secret of one pull credential: the
// same credential, the same Secret, whichever apps share it.
func credentialSecretName(cred string) string {
	sum := sha256.Sum256([]byte(cred))
	return "pullcred-" + hex.EncodeToString(sum[:8])
}

// syncCredentials makes the pull pods' namespace hold exactly one
// kubernetes.io/dockerconfigjson Secret per pull credential of the
// catalog's images (creds: image → credential), which the pull pods name
// in imagePullSecrets, and no other: a credential no app of the catalog
// has any more (removed, rotated, its app gone) loses its Secret, also
// when none is left and after a restart of the agent. It lists the
// namespace's credential Secrets only when the set of credentials
// changed, at the first pass, and after a Secret could not be deleted;
// false when a Secret could not be made.
func (s *Syncer) syncCredentials(ctx context.Context, creds map[string]string) bool {
	want := map[string]string{}
	for _, c := range creds {
		want[credentialSecretName(c)] = c
	}
	if s.credSecrets != nil && maps.EqualFunc(s.credSecrets, want, func(bool, string) bool { return true }) {
		return true
	}
	if len(want) > 0 && !s.ensureNamespace(ctx) {
		return false
	}
	api := s.Kube.CoreV1().Secrets(s.Options.Namespace)
	list, err := api.List(ctx, metav1.ListOptions{LabelSelector: LabelCredential + "=true"})
	if err != nil && !apierrors.IsNotFound(err) {
		s.Log.Warn("prepull: listing credential Secrets", "err", err)
		return false
	}
	have, stale := map[string]bool{}, false
	if list != nil {
		for _, sec := range list.Items {
			if _, ok := want[sec.Name]; ok {
				have[sec.Name] = true
				continue
			}
			if err := api.Delete(ctx, sec.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				s.Log.Warn("prepull: deleting credential Secret", "secret", sec.Name, "err", err)
				stale = true
			}
		}
	}
	for name, c := range want {
		if have[name] {
			continue
		}
		sec := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.Options.Namespace,
				Labels: map[string]string{LabelCredential: "true", "app.kubernetes.io/managed-by": "flotilla-agent"}},
			Type:      corev1.SecretTypeDockerConfigJson,
			Immutable: new(true),
			Data:      map[string][]byte{corev1.DockerConfigJsonKey: []byte(c)},
		}
		if _, err := api.Create(ctx, sec, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			s.Log.Warn("prepull: creating credential Secret", "secret", name, "err", err) // never the content
			return false
		}
	}
	s.credSecrets = nil // not known: a Secret left could not be deleted, list again next time
	if !stale {
		s.credSecrets = map[string]bool{}
		for name := range want {
			s.credSecrets[name] = true
		}
	}
	return true
}
