// Package container is the half of a local node's container that runs inside
// its namespaces. The node starts `flotilla-localnode container-init` with
// new mount, PID, UTS and IPC namespaces, in the pod's network namespace,
// and hands it a Spec; Init assembles the container's root (the host's root
// filesystem under an overlay whose writable layer is a private tmpfs, with
// the host's other mounts, a fresh /proc and /dev/shm, the pod's volumes at
// their mount paths and the pod's /etc/hosts), pivots into it, starts the
// command as the pod's user and stays as the namespace's init: it forwards
// signals, reaps orphans and exits with the command's status. When it exits
// the kernel kills whatever the command left in the PID namespace, and the
// mounts vanish with the mount namespace: nothing outlives the container.
package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Spec is everything Init needs; the node writes it as JSON.
type Spec struct {
	// Dir is the container's directory on the node; a tmpfs of ScratchBytes
	// is mounted on it (privately) to hold the root's writable layer.
	Dir          string `json:"dir"`
	ScratchBytes int64  `json:"scratch_bytes"`
	// Layers are directories stacked above the host root, top first: an
	// image's extra files (e.g. /flotilla-init of the init image).
	Layers []string `json:"layers,omitempty"`
	// SkipMounts are host mount points not carried into the root, with
	// everything below them (the node's state directory).
	SkipMounts []string `json:"skip_mounts,omitempty"`
	Mounts     []Mount  `json:"mounts,omitempty"`
	Hostname   string   `json:"hostname"`
	HostsFile  string   `json:"hosts_file,omitempty"` // bound onto /etc/hosts
	ShmBytes   int64    `json:"shm_bytes"`

	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups,omitempty"`
	// UserName names the passwd entry added (in the container only) when
	// the host has none for UID, as podman does; its home is /home/NAME.
	UserName string `json:"user_name"`

	Argv    []string `json:"argv"`
	Env     []string `json:"env"`
	WorkDir string   `json:"work_dir,omitempty"`
}

// Mount is a bind mount of a node path at a path of the container.
type Mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// Exit statuses of container-init itself.
const (
	// ExitStartError: the container could not be set up or its command not
	// started (the kubelet reports 128 for StartError too).
	ExitStartError = 128
)

// Status messages container-init writes on its status pipe.
const (
	StatusStarted = "started"
)

// ErrSpec is a spec that cannot be run.
var ErrSpec = errors.New("invalid container spec")

// ReadSpec decodes and checks a spec.
func ReadSpec(r io.Reader) (*Spec, error) {
	var s Spec
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSpec, err)
	}
	switch {
	case len(s.Argv) == 0:
		return nil, fmt.Errorf("%w: no command", ErrSpec)
	case !filepath.IsAbs(s.Dir):
		return nil, fmt.Errorf("%w: container dir %q is not absolute", ErrSpec, s.Dir)
	case s.UserName == "" || strings.ContainsAny(s.UserName, ":\n/"):
		return nil, fmt.Errorf("%w: user name %q", ErrSpec, s.UserName)
	}
	for _, m := range s.Mounts {
		if !filepath.IsAbs(m.Source) || !filepath.IsAbs(m.Target) {
			return nil, fmt.Errorf("%w: mount %s -> %s: paths must be absolute", ErrSpec, m.Source, m.Target)
		}
	}
	return &s, nil
}
