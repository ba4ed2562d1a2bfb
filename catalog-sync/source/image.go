package source

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// AppDefPath is where a JARVICE app image carries its AppDef.
const AppDefPath = "etc/NAE/AppDef.json"

// LabelAppDef is the image label that may carry the AppDef (JSON)
// instead of the file; the file wins when both are there.
const LabelAppDef = "com.nimbix.appdef"

// Images is a list of OCI images, each carrying its AppDef: one app per
// image, named Names[ref] or else after the image's repository's last
// element (registry.example/apps/solver:2 → solver).
type Images struct {
	ID         string // names the list (see Origin)
	Refs       []string
	Names      map[string]string
	Visibility structs.Visibility
	// Insecure allows plain HTTP to registries other than loopback.
	Insecure bool
	// Keychain gives registry credentials (default: anonymous).
	Keychain authn.Keychain
}

// Origin is "images:" and the source's ID, or without one its
// references: give a list that changes an ID, so that its apps keep their
// origin (and images dropped from it are removed).
func (s *Images) Origin() string {
	if s.ID != "" {
		return "images:" + s.ID
	}
	return "images:" + strings.Join(s.Refs, ",")
}

// Apps reads each image's AppDef; an image that cannot be read or has
// none is refused with the reason.
func (s *Images) Apps(ctx context.Context) ([]*structs.App, []Refusal, error) {
	var apps []*structs.App
	var refused []Refusal
	for _, ref := range s.Refs {
		n := s.Names[ref]
		if n == "" {
			n = AppName(ref)
		}
		doc, err := ReadAppDef(ctx, ref, s.options()...)
		if err != nil {
			refused = append(refused, Refusal{n, err.Error()})
			continue
		}
		a, err := bareApp(n, doc, s.Visibility, ref)
		if err != nil {
			refused = append(refused, Refusal{n, err.Error()})
			continue
		}
		apps = append(apps, a)
	}
	return apps, refused, nil
}

func (s *Images) options() []Option {
	return []Option{{insecure: s.Insecure, keychain: s.Keychain}}
}

// AppName is the app name an image reference gives: its repository's
// last path element.
func AppName(ref string) string {
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return ref
	}
	return path.Base(r.Context().RepositoryStr())
}

// image fetches an image's manifest and config (layers are read lazily).
func image(ctx context.Context, ref string, opts ...Option) (v1.Image, error) {
	r, ropts, err := remoteRef(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(r, ropts...)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	return img, nil
}

// maxAppDefBytes bounds the AppDef read from an image.
const maxAppDefBytes = 4 << 20

// ReadAppDef returns the AppDef an image carries: /etc/NAE/AppDef.json in
// its file system (the topmost layer's copy), else its LabelAppDef label.
func ReadAppDef(ctx context.Context, ref string, opts ...Option) ([]byte, error) {
	img, err := image(ctx, ref, opts...)
	if err != nil {
		return nil, err
	}
	doc, err := appDefIn(img)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	if doc == nil {
		return nil, fmt.Errorf("image %s carries no AppDef (neither /%s nor label %s)", ref, AppDefPath, LabelAppDef)
	}
	return doc, nil
}

// appDefIn is the AppDef img carries: the file, else the label; nil when
// it carries neither.
func appDefIn(img v1.Image) ([]byte, error) {
	doc, err := fileIn(img, AppDefPath)
	if err != nil || doc != nil {
		return doc, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if l := cfg.Config.Labels[LabelAppDef]; l != "" {
		return []byte(l), nil
	}
	return nil, nil
}

// imageError is an image a pull cannot take whatever the registry says:
// an AppDef file that cannot be read as one (not a regular file, too
// large), an index without an image.
type imageError struct{ reason string }

func (e *imageError) Error() string { return e.reason }

// fileIn reads one file of an image's flattened file system, nil when it
// is not there. The reading stops at the file.
func fileIn(img v1.Image, want string) ([]byte, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if path.Clean(strings.TrimPrefix(h.Name, "/")) != want {
			continue
		}
		if h.Typeflag != tar.TypeReg {
			return nil, &imageError{fmt.Sprintf("/%s is not a regular file", want)}
		}
		if h.Size > maxAppDefBytes {
			return nil, &imageError{fmt.Sprintf("/%s: larger than %d bytes", want, maxAppDefBytes)}
		}
		return io.ReadAll(io.LimitReader(tr, maxAppDefBytes))
	}
}
