package source

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Pulled is what a PushToCompute pull (JARVICE's /jarvice/pull) reads of
// an image: the reference pinned to the digest it names now, and the
// AppDef of the image at that digest (nil when it carries none).
type Pulled struct {
	// Ref is the reference as given, pinned: "reg/app:2@sha256:..." (a
	// reference that names a digest already is kept as it is).
	Ref    string
	Digest string
	AppDef []byte
}

// ReadPull resolves ref to the digest its tag names now — an image or a
// multi-platform index — and reads the AppDef (/etc/NAE/AppDef.json, else
// the LabelAppDef label) of that digest, so both come from one image even
// when the tag moves meanwhile. For an index the AppDef is read from its
// linux/amd64 image, else its first platform's. A registry's refusal or
// absence is a *PullError that quotes no reply body.
func ReadPull(ctx context.Context, ref string, opts ...Option) (*Pulled, error) {
	r, ropts, err := remoteRef(ctx, ref, opts)
	if err != nil {
		return nil, &PullError{Ref: ref, Reason: "not an image reference", Refused: true}
	}
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return nil, pullError(ref, err)
	}
	p := &Pulled{Ref: ref, Digest: desc.Digest.String()}
	if _, isDigest := r.(name.Digest); !isDigest {
		p.Ref = ref + "@" + p.Digest
	}
	img, err := pulledImage(desc)
	if err != nil {
		return nil, pullError(ref, err)
	}
	if p.AppDef, err = appDefIn(img); err != nil {
		return nil, pullError(ref, err)
	}
	return p, nil
}

// pulledImage is the image of a descriptor: itself, or an index's
// linux/amd64 image, else its first platform's.
func pulledImage(desc *remote.Descriptor) (v1.Image, error) {
	if !desc.MediaType.IsIndex() {
		return desc.Image()
	}
	if img, err := desc.Image(); err == nil {
		return img, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range m.Manifests {
		if platformText(d.Platform) != "" && d.MediaType.IsImage() {
			return idx.Image(d.Digest)
		}
	}
	return nil, &imageError{"the index names no image"}
}

// PullError is a pull that could not read its image: the registry
// refused or lacks it (Refused), or could not be reached. Its message
// names the reference and the registry's status and error codes only.
type PullError struct {
	Ref     string
	Reason  string
	Refused bool // the registry answered: unknown image, denied, ...
}

func (e *PullError) Error() string { return fmt.Sprintf("image %s: %s", e.Ref, e.Reason) }

// pullError condenses a registry read's failure: the registry's status
// and error codes, never a reply body or an address's details (a hub
// that reads user-named registries must not relay what another host
// answered).
func pullError(ref string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		var codes []string
		for _, d := range te.Errors {
			codes = append(codes, string(d.Code))
		}
		reason := fmt.Sprintf("the registry answered %d", te.StatusCode)
		if len(codes) > 0 {
			reason += " (" + strings.Join(codes, ", ") + ")"
		}
		return &PullError{Ref: ref, Reason: reason, Refused: te.StatusCode < 500}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &PullError{Ref: ref, Reason: "the registry did not answer in time"}
	}
	var ae *imageError
	if errors.As(err, &ae) {
		return &PullError{Ref: ref, Reason: ae.Error(), Refused: true}
	}
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) {
		return &PullError{Ref: ref, Reason: "the registry's certificate is not trusted"}
	}
	return &PullError{Ref: ref, Reason: "the registry could not be read"}
}
