package localnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
)

// Errors of volume set-up. ErrNotYet is retried (the object may not have
// reached the informer yet); ErrUnsupported fails the pod.
var (
	ErrNotYet      = errors.New("not available yet")
	ErrUnsupported = errors.New("not supported on local nodes")
)

// objects are the listers volumes and environment read from, and the
// client that issues service account tokens.
type objects struct {
	secrets    corev1listers.SecretLister
	configMaps corev1listers.ConfigMapLister
	client     kubernetes.Interface
}

// token issues a token of the pod's service account bound to the pod (a
// projected serviceAccountToken source, e.g. kube-api-access-*).
func (o objects) token(pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection) ([]byte, error) {
	if o.client == nil {
		return nil, fmt.Errorf("service account tokens: %w", ErrUnsupported)
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: src.ExpirationSeconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if src.Audience != "" {
		req.Spec.Audiences = []string{src.Audience}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := o.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("service account %s/%s: %w", pod.Namespace, sa, ErrNotYet)
	}
	if err != nil {
		return nil, err
	}
	return []byte(tr.Status.Token), nil
}

func (o objects) secret(ns, name string, optional bool) (map[string][]byte, error) {
	s, err := o.secrets.Secrets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		if optional {
			return nil, nil
		}
		return nil, fmt.Errorf("secret %s/%s: %w", ns, name, ErrNotYet)
	}
	if err != nil {
		return nil, err
	}
	return s.Data, nil
}

func (o objects) configMap(ns, name string, optional bool) (map[string][]byte, error) {
	c, err := o.configMaps.ConfigMaps(ns).Get(name)
	if apierrors.IsNotFound(err) {
		if optional {
			return nil, nil
		}
		return nil, fmt.Errorf("config map %s/%s: %w", ns, name, ErrNotYet)
	}
	if err != nil {
		return nil, err
	}
	data := map[string][]byte{}
	for k, v := range c.Data {
		data[k] = []byte(v)
	}
	for k, v := range c.BinaryData {
		data[k] = v
	}
	return data, nil
}

// volumePaths maps each volume of a pod to its directory on the node; a
// volume mounted read-only whatever its mounts say (a claim marked
// readOnly, or bound to a ReadOnlyMany volume) also has readOnlyKey(name).
type volumePaths map[string]string

// readOnlyKey marks a read-only volume in volumePaths (no volume name
// holds a NUL).
func readOnlyKey(name string) string { return "\x00ro:" + name }

// readOnly reports whether volume name is read-only for every mount.
func (p volumePaths) readOnly(name string) bool { return p[readOnlyKey(name)] != "" }

// claimPath resolves a claim to the host directory of the hostPath or
// local volume it is bound to. It is read-only when the pod's volume
// says so or the volume allows only ReadOnlyMany (a kubelet leaves that
// to the storage; local nodes enforce it). A claim not bound yet is
// ErrNotYet.
func (o objects) claimPath(ns string, src *corev1.PersistentVolumeClaimVolumeSource) (string, bool, error) {
	if o.client == nil {
		return "", false, fmt.Errorf("persistentVolumeClaim: %w", ErrUnsupported)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pvc, err := o.client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, src.ClaimName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && (pvc.Spec.VolumeName == "" || pvc.Status.Phase != corev1.ClaimBound)) {
		return "", false, fmt.Errorf("claim %s/%s not bound: %w", ns, src.ClaimName, ErrNotYet)
	} else if err != nil {
		return "", false, err
	}
	pv, err := o.client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", false, fmt.Errorf("volume %s of claim %s/%s: %w", pvc.Spec.VolumeName, ns, src.ClaimName, err)
	}
	var p string
	switch {
	case pv.Spec.HostPath != nil:
		p = pv.Spec.HostPath.Path
	case pv.Spec.Local != nil:
		p = pv.Spec.Local.Path
	default:
		return "", false, fmt.Errorf("volume %s: %w (local nodes serve hostPath and local volumes)", pv.Name, ErrUnsupported)
	}
	if _, err := os.Stat(p); err != nil {
		return "", false, fmt.Errorf("volume %s: %w", pv.Name, err)
	}
	ro := src.ReadOnly
	if modes := pv.Spec.AccessModes; len(modes) == 1 && modes[0] == corev1.ReadOnlyMany {
		ro = true
	}
	return p, ro, nil
}

// materialize writes the pod's volumes below dir (a tmpfs) and returns
// where each one is. Secret, ConfigMap, projected and downward-API volumes
// are files owned by root and the pod's fsGroup with the modes the spec
// names; an emptyDir is a directory anyone may write (mode 1777 is not
// needed: 0777 as the kubelet makes it); a hostPath is the host's path.
func materialize(pod *corev1.Pod, dir string, objs objects) (volumePaths, error) {
	gid := -1
	if sc := pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
		gid = int(*sc.FSGroup)
	}
	paths := volumePaths{}
	for _, v := range pod.Spec.Volumes {
		vdir := filepath.Join(dir, v.Name)
		var files map[string]fileData
		var err error
		switch src := v.VolumeSource; {
		case src.EmptyDir != nil:
			if err := os.MkdirAll(vdir, 0o777); err != nil {
				return nil, err
			}
			if err := os.Chmod(vdir, 0o777); err != nil {
				return nil, err
			}
			paths[v.Name] = vdir
			continue
		case src.HostPath != nil:
			p := src.HostPath.Path
			if t := src.HostPath.Type; t != nil && *t == corev1.HostPathDirectoryOrCreate {
				if err := os.MkdirAll(p, 0o755); err != nil {
					return nil, err
				}
			}
			if _, err := os.Stat(p); err != nil {
				return nil, fmt.Errorf("hostPath volume %s: %w", v.Name, err)
			}
			paths[v.Name] = p
			continue
		case src.PersistentVolumeClaim != nil:
			p, ro, err := objs.claimPath(pod.Namespace, src.PersistentVolumeClaim)
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			paths[v.Name] = p
			if ro {
				paths[readOnlyKey(v.Name)] = "true"
			}
			continue
		case src.Secret != nil:
			files, err = secretFiles(pod.Namespace, src.Secret, objs)
		case src.ConfigMap != nil:
			files, err = configMapFiles(pod.Namespace, src.ConfigMap, objs)
		case src.DownwardAPI != nil:
			files, err = downwardFiles(pod, src.DownwardAPI.Items, src.DownwardAPI.DefaultMode)
		case src.Projected != nil:
			files, err = projectedFiles(pod, src.Projected, objs)
		default:
			return nil, fmt.Errorf("volume %s: %w (served: emptyDir, hostPath, persistentVolumeClaim of a hostPath or local volume, secret, configMap, projected, downwardAPI)", v.Name, ErrUnsupported)
		}
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		if err := writeFiles(vdir, files, gid); err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		paths[v.Name] = vdir
	}
	return paths, nil
}

type fileData struct {
	data []byte
	mode os.FileMode
}

// keyFiles selects the files of a Secret or ConfigMap volume: every key, or
// the items named (a missing key is an error unless optional).
func keyFiles(data map[string][]byte, items []corev1.KeyToPath, defMode *int32, optional bool) (map[string]fileData, error) {
	mode := os.FileMode(0o644)
	if defMode != nil {
		mode = os.FileMode(*defMode)
	}
	out := map[string]fileData{}
	if len(items) == 0 {
		for k, v := range data {
			out[k] = fileData{v, mode}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("key %q: %w", it.Key, ErrNotYet)
		}
		m := mode
		if it.Mode != nil {
			m = os.FileMode(*it.Mode)
		}
		out[it.Path] = fileData{v, m}
	}
	return out, nil
}

func secretFiles(ns string, s *corev1.SecretVolumeSource, objs objects) (map[string]fileData, error) {
	optional := s.Optional != nil && *s.Optional
	data, err := objs.secret(ns, s.SecretName, optional)
	if err != nil {
		return nil, err
	}
	return keyFiles(data, s.Items, s.DefaultMode, optional)
}

func configMapFiles(ns string, c *corev1.ConfigMapVolumeSource, objs objects) (map[string]fileData, error) {
	optional := c.Optional != nil && *c.Optional
	data, err := objs.configMap(ns, c.Name, optional)
	if err != nil {
		return nil, err
	}
	return keyFiles(data, c.Items, c.DefaultMode, optional)
}

func downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, defMode *int32) (map[string]fileData, error) {
	mode := os.FileMode(0o644)
	if defMode != nil {
		mode = os.FileMode(*defMode)
	}
	out := map[string]fileData{}
	for _, it := range items {
		if it.FieldRef == nil {
			return nil, fmt.Errorf("downward API file %s: only fieldRef is %w", it.Path, ErrUnsupported)
		}
		v, err := fieldValue(pod, it.FieldRef.FieldPath)
		if err != nil {
			return nil, err
		}
		m := mode
		if it.Mode != nil {
			m = os.FileMode(*it.Mode)
		}
		out[it.Path] = fileData{[]byte(v), m}
	}
	return out, nil
}

func projectedFiles(pod *corev1.Pod, p *corev1.ProjectedVolumeSource, objs objects) (map[string]fileData, error) {
	out := map[string]fileData{}
	for _, src := range p.Sources {
		var files map[string]fileData
		var err error
		switch {
		case src.Secret != nil:
			optional := src.Secret.Optional != nil && *src.Secret.Optional
			var data map[string][]byte
			if data, err = objs.secret(pod.Namespace, src.Secret.Name, optional); err == nil {
				files, err = keyFiles(data, src.Secret.Items, p.DefaultMode, optional)
			}
		case src.ConfigMap != nil:
			optional := src.ConfigMap.Optional != nil && *src.ConfigMap.Optional
			var data map[string][]byte
			if data, err = objs.configMap(pod.Namespace, src.ConfigMap.Name, optional); err == nil {
				files, err = keyFiles(data, src.ConfigMap.Items, p.DefaultMode, optional)
			}
		case src.DownwardAPI != nil:
			files, err = downwardFiles(pod, src.DownwardAPI.Items, p.DefaultMode)
		case src.ServiceAccountToken != nil:
			var tok []byte
			if tok, err = objs.token(pod, src.ServiceAccountToken); err == nil {
				mode := os.FileMode(0o644)
				if p.DefaultMode != nil {
					mode = os.FileMode(*p.DefaultMode)
				}
				files = map[string]fileData{src.ServiceAccountToken.Path: {tok, mode}}
			}
		default:
			err = fmt.Errorf("projected source: only secret, configMap, downwardAPI and serviceAccountToken are %w", ErrUnsupported)
		}
		if err != nil {
			return nil, err
		}
		for k, v := range files {
			out[k] = v
		}
	}
	return out, nil
}

// refreshDownward rewrites the downward-API volumes of a running pod from
// pod (its labels and annotations may have changed), each file by rename.
func (r *podRun) refreshDownward(pod *corev1.Pod) error {
	r.mu.Lock() // one refresh at a time
	defer r.mu.Unlock()
	cur := *r.pod // the spec as created, the metadata as updated
	cur.Labels, cur.Annotations = pod.Labels, pod.Annotations
	gid := -1
	if sc := cur.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
		gid = int(*sc.FSGroup)
	}
	for _, v := range cur.Spec.Volumes {
		if v.DownwardAPI == nil {
			continue
		}
		vdir := filepath.Join(r.dir, "volumes", v.Name)
		if _, err := os.Stat(vdir); err != nil {
			continue // not set up yet: setUp writes the new values
		}
		files, err := downwardFiles(&cur, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
		if err != nil {
			return fmt.Errorf("volume %s: %w", v.Name, err)
		}
		if err := replaceFiles(vdir, files, gid); err != nil {
			return fmt.Errorf("volume %s: %w", v.Name, err)
		}
	}
	return nil
}

// replaceFiles writes each file to a temporary name beside it and renames
// it over the old one.
func replaceFiles(dir string, files map[string]fileData, gid int) error {
	for rel, f := range files {
		clean := filepath.Clean(rel)
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("file path %q leaves the volume", rel)
		}
		p := filepath.Join(dir, clean)
		tmp := filepath.Join(filepath.Dir(p), ".."+filepath.Base(p)+".tmp")
		if err := writeFiles(filepath.Dir(p), map[string]fileData{filepath.Base(tmp): f}, gid); err != nil {
			return err
		}
		if err := os.Rename(tmp, p); err != nil {
			return err
		}
	}
	return nil
}

// writeFiles writes files below dir (paths may have directories), owned
// by root and group gid (-1: root's) with their modes.
func writeFiles(dir string, files map[string]fileData, gid int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for rel, f := range files {
		clean := filepath.Clean(rel)
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("file path %q leaves the volume", rel)
		}
		p := filepath.Join(dir, clean)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, 0o600); err != nil {
			return err
		}
		if gid >= 0 {
			if err := os.Chown(p, 0, gid); err != nil {
				return err
			}
		}
		if err := os.Chmod(p, f.mode); err != nil {
			return err
		}
	}
	return nil
}
