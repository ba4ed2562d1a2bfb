package binder

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
)

// metaAccept asks the API server to answer a write with the object's
// metadata only (PartialObjectMetadata), protobuf or JSON.
const metaAccept = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1," +
	"application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"

// metaCodecs decode PartialObjectMetadata.
var metaCodecs = func() serializer.CodecFactory {
	s := runtime.NewScheme()
	metav1.AddMetaToScheme(s)
	return serializer.NewCodecFactory(s)
}()

// postPod creates p and returns the pod created with its metadata only
// (its UID and resource version are all a pre-placed create needs): the
// API server encodes no spec and status into the reply, the agent decodes
// none. A client without a REST client of its own (a fake clientset)
// creates it the ordinary way.
func (b *Binder) postPod(ctx context.Context, p *corev1.Pod) (*corev1.Pod, error) {
	rc, ok := b.client.CoreV1().RESTClient().(*rest.RESTClient)
	if !ok || rc == nil {
		return b.client.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
	}
	raw, err := rc.Post().Namespace(p.Namespace).Resource("pods").SetHeader("Accept", metaAccept).Body(p).Do(ctx).Raw()
	if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
		// A refusal's Status does not decode under the metadata Accept
		// (its message reads "unknown"): ask again the ordinary way, which
		// the server refuses alike, for its reason (e.g. the Pod Security
		// level the pod violates).
		return b.client.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
	}
	if err != nil {
		return nil, err
	}
	var m metav1.PartialObjectMetadata
	if _, _, err := metaCodecs.UniversalDeserializer().Decode(raw, nil, &m); err != nil {
		return nil, fmt.Errorf("binder: reading the reply to creating pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return &corev1.Pod{ObjectMeta: m.ObjectMeta}, nil
}
