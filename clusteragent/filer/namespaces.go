package filer

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Namespaces is told, under the manager's lock, when a namespace is about
// to get a filer and when it has none left: the agent's runner lowers a
// tenant namespace's Pod Security level for its filers and brings it back
// once they are gone. Holding the lock for both, the manager never
// reports a namespace empty while Ensure is making a filer there.
type Namespaces interface {
	// FilerComing prepares namespace ns for a filer Ensure is about to
	// make; an error stops Ensure.
	FilerComing(ctx context.Context, ns string) error
	// FilersGone says namespace ns, which had a filer (or was prepared
	// for one), has no filer Service or pod left; an error makes the
	// next pass say it again.
	FilersGone(ctx context.Context, ns string) error
}

// SetNamespaces wires n (nil: none) before Run and the first Ensure.
func (m *Manager) SetNamespaces(n Namespaces) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.namespaces = n
}

// filerComing tells the wired Namespaces about a filer coming to ns and
// counts ns as hosting filers. The caller holds m.mu.
func (m *Manager) filerComing(ctx context.Context, ns string) error {
	if m.namespaces == nil {
		return nil
	}
	if err := m.namespaces.FilerComing(ctx, ns); err != nil {
		return fmt.Errorf("filer namespace %s: %w", ns, err)
	}
	m.hosting[ns] = true
	return nil
}

// settleNamespaces is the end of a pass: every namespace with a filer
// Service or pod that is not being deleted (and was not removed in this
// pass, removed: namespace/filer) hosts filers; every namespace that did
// and has none left is reported gone. The caller holds m.mu.
func (m *Manager) settleNamespaces(ctx context.Context, svcs []corev1.Service, pods []corev1.Pod, removed map[string]bool) []error {
	if m.namespaces == nil {
		return nil
	}
	present := map[string]bool{}
	for i := range svcs {
		s := &svcs[i]
		if s.DeletionTimestamp == nil && m.owns(s.Namespace) && !removed[s.Namespace+"/"+s.Labels[LabelFiler]] {
			present[s.Namespace] = true
		}
	}
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp == nil && m.owns(p.Namespace) && !removed[p.Namespace+"/"+p.Labels[LabelFiler]] {
			present[p.Namespace] = true
		}
	}
	for ns := range present {
		m.hosting[ns] = true
	}
	var errs []error
	for ns := range m.hosting {
		if present[ns] {
			continue
		}
		if err := m.namespaces.FilersGone(ctx, ns); err != nil {
			errs = append(errs, fmt.Errorf("filer namespace %s: %w", ns, err))
			continue
		}
		delete(m.hosting, ns)
		m.log.Info("last filer of the namespace gone", "namespace", ns)
	}
	return errs
}
