package localnode

import (
	"bytes"
	"context"
	"io"
	"os"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
)

// logs returns a container's output: all of it, or its last Tail lines,
// at most LimitBytes; with Follow it streams until the container ends.
// Timestamps and Since are not served (the log keeps no times).
func (r *podRun) logs(ctx context.Context, container string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	if !r.hasContainer(container) {
		return nil, errdefs.NotFoundf("pod %s has no container %q", r.key(), container)
	}
	b, err := os.ReadFile(r.logPath(container))
	if os.IsNotExist(err) {
		b, err = nil, nil // not started yet
	}
	if err != nil {
		return nil, err
	}
	if opts.Tail > 0 {
		b = lastLines(b, opts.Tail)
	}
	if opts.LimitBytes > 0 && len(b) > opts.LimitBytes {
		b = b[:opts.LimitBytes]
	}
	if !opts.Follow {
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	offset := int64(len(b))
	if opts.Tail > 0 {
		if st, err := os.Stat(r.logPath(container)); err == nil {
			offset = st.Size()
		}
	}
	pr, pw := io.Pipe()
	go r.follow(ctx, container, b, offset, pw)
	return pr, nil
}

// follow writes first, then what the log gains after offset, until the
// pod's containers are done or ctx ends.
func (r *podRun) follow(ctx context.Context, container string, first []byte, offset int64, w *io.PipeWriter) {
	if _, err := w.Write(first); err != nil {
		return
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		done := r.containerDone(container)
		if f, err := os.Open(r.logPath(container)); err == nil {
			n, _ := io.Copy(w, io.NewSectionReader(f, offset, 1<<40))
			offset += n
			f.Close()
		}
		if done {
			w.Close()
			return
		}
		select {
		case <-ctx.Done():
			w.CloseWithError(ctx.Err())
			return
		case <-t.C:
		}
	}
}

func (r *podRun) hasContainer(name string) bool {
	for _, c := range append(append(r.pod.Spec.InitContainers[:0:0], r.pod.Spec.InitContainers...), r.pod.Spec.Containers...) {
		if c.Name == name {
			return true
		}
	}
	return false
}

// containerDone reports whether container has terminated or the pod is gone.
func (r *podRun) containerDone(name string) bool {
	s := r.snapshot().Status
	if r.isStopped() {
		return true
	}
	for _, cs := range append(s.InitContainerStatuses, s.ContainerStatuses...) {
		if cs.Name == name {
			return cs.State.Terminated != nil
		}
	}
	return true
}

// lastLines returns the last n lines of b (a final line without a newline
// counts).
func lastLines(b []byte, n int) []byte {
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}
