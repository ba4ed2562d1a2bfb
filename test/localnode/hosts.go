package localnode

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
)

// ClusterDomain is the DNS domain pod names are qualified with.
const ClusterDomain = "cluster.local"

// hostsTable gives every pod an /etc/hosts that names the pods of its
// subdomain, as cluster DNS does for a headless Service
// (<hostname>.<subdomain>.<namespace>.svc.cluster.local, with the short
// forms as aliases since /etc/hosts has no search list). Files are
// rewritten in place when a pod of the group gets or loses its address:
// they are bind-mounted, so the inode must stay.
type hostsTable struct {
	mu   sync.Mutex
	pods map[string]hostEntry // by pod UID
}

type hostEntry struct {
	namespace, subdomain, hostname, ip string
	file                               string
}

func newHostsTable() *hostsTable { return &hostsTable{pods: map[string]hostEntry{}} }

// set adds or replaces a pod's entry and rewrites its group's files.
func (h *hostsTable) set(uid string, e hostEntry) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pods[uid] = e
	return h.rewrite(e)
}

// remove drops a pod's entry and rewrites the files of the rest of its group.
func (h *hostsTable) remove(uid string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.pods[uid]
	if !ok {
		return nil
	}
	delete(h.pods, uid)
	return h.rewrite(e)
}

// rewrite writes the file of every pod in e's group; h.mu is held.
func (h *hostsTable) rewrite(e hostEntry) error {
	var group []hostEntry
	for _, p := range h.pods {
		if p.namespace == e.namespace && p.subdomain == e.subdomain && (e.subdomain != "" || p == e) {
			group = append(group, p)
		}
	}
	slices.SortFunc(group, func(a, b hostEntry) int { return strings.Compare(a.hostname, b.hostname) })
	var err error
	for _, p := range group {
		if werr := os.WriteFile(p.file, hostsFile(p, group), 0o644); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// hostsFile is the /etc/hosts of self in its group.
func hostsFile(self hostEntry, group []hostEntry) []byte {
	var b strings.Builder
	b.WriteString("# Written by flotilla-localnode: this pod and the pods of its subdomain.\n")
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	for _, p := range group {
		if p.ip == "" {
			continue
		}
		if p.subdomain == "" {
			fmt.Fprintf(&b, "%s\t%s\n", p.ip, p.hostname)
			continue
		}
		short := p.hostname + "." + p.subdomain
		fmt.Fprintf(&b, "%s\t%s.%s.svc.%s %s.%s.svc %s.%s %s %s\n", p.ip,
			short, p.namespace, ClusterDomain, short, p.namespace, short, p.namespace, short, p.hostname)
	}
	if self.ip == "" {
		fmt.Fprintf(&b, "# %s has no address yet\n", self.hostname)
	}
	return []byte(b.String())
}
