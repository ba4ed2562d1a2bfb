package localnode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
)

// ErrNoAddress is returned when the pod subnet has no free address.
var ErrNoAddress = errors.New("no free pod address")

// Network is the node process's pod network: a bridge br0 in the switch
// namespace <prefix>sw and one namespace <prefix><n> per pod, attached by a
// veth pair, with an address from the subnet. The switch namespace has no
// link to the host, so pod traffic stays among the pods.
type Network struct {
	prefix string
	subnet netip.Prefix
	ip     string // the ip(8) binary

	mu   sync.Mutex
	used map[netip.Addr]bool
	next int // sequence number of the next pod namespace
}

// NewNetwork returns the network for namespaces named with prefix (at most
// 9 bytes: interface names are short) on subnet; Create makes it.
func NewNetwork(prefix string, subnet netip.Prefix) (*Network, error) {
	if len(prefix) == 0 || len(prefix) > 9 {
		return nil, fmt.Errorf("network prefix %q: want 1 to 9 bytes", prefix)
	}
	if !subnet.Addr().Is4() || subnet.Bits() > 29 {
		return nil, fmt.Errorf("pod subnet %s: want an IPv4 prefix of /29 or larger", subnet)
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		return nil, fmt.Errorf("ip(8) is needed (Debian package iproute2): %w", err)
	}
	return &Network{prefix: prefix, subnet: subnet.Masked(), ip: ip, used: map[netip.Addr]bool{}}, nil
}

// SwitchNS is the name of the namespace holding the bridge.
func (n *Network) SwitchNS() string { return n.prefix + "sw" }

// Prefix is what every namespace name of this network starts with.
func (n *Network) Prefix() string { return n.prefix }

// Create makes the switch namespace and its bridge.
func (n *Network) Create(ctx context.Context) error {
	sw := n.SwitchNS()
	return n.run(ctx,
		[]string{"netns", "add", sw},
		[]string{"-n", sw, "link", "add", "br0", "type", "bridge"},
		[]string{"-n", sw, "link", "set", "br0", "up"},
	)
}

// PodNet is one pod's network namespace and address.
type PodNet struct {
	NS   string // namespace name; its file is /run/netns/NS
	Addr netip.Addr
	port string // the veth end on the bridge
}

// Path is the namespace's file.
func (p *PodNet) Path() string { return "/run/netns/" + p.NS }

// AddPod makes a namespace for a pod with a free address on the bridge.
// record is called with the namespace name before it exists, so a crash
// between the two leaves a name the next start can clean up.
func (n *Network) AddPod(ctx context.Context, record func(ns string) error) (*PodNet, error) {
	n.mu.Lock()
	addr, ok := n.freeAddr()
	if !ok {
		n.mu.Unlock()
		return nil, fmt.Errorf("%w in %s", ErrNoAddress, n.subnet)
	}
	n.used[addr] = true
	seq := n.next
	n.next++
	n.mu.Unlock()
	p := &PodNet{NS: fmt.Sprintf("%s%d", n.prefix, seq), Addr: addr, port: fmt.Sprintf("v%d", seq)}
	if err := record(p.NS); err != nil {
		n.release(addr)
		return nil, err
	}
	sw := n.SwitchNS()
	err := n.run(ctx,
		[]string{"netns", "add", p.NS},
		[]string{"-n", sw, "link", "add", p.port, "type", "veth", "peer", "name", "eth0", "netns", p.NS},
		[]string{"-n", sw, "link", "set", p.port, "master", "br0", "up"},
		[]string{"-n", p.NS, "addr", "add", fmt.Sprintf("%s/%d", addr, n.subnet.Bits()), "dev", "eth0"},
		[]string{"-n", p.NS, "link", "set", "eth0", "up"},
		[]string{"-n", p.NS, "link", "set", "lo", "up"},
	)
	if err != nil {
		n.DeletePod(context.WithoutCancel(ctx), p)
		return nil, err
	}
	return p, nil
}

// DeletePod removes a pod's namespace (and with it its veth pair) and frees
// its address.
func (n *Network) DeletePod(ctx context.Context, p *PodNet) error {
	err := DeleteNS(ctx, n.ip, p.NS)
	n.release(p.Addr)
	return err
}

// Delete removes the switch namespace and the bridge in it.
func (n *Network) Delete(ctx context.Context) error {
	return DeleteNS(ctx, n.ip, n.SwitchNS())
}

func (n *Network) release(a netip.Addr) {
	n.mu.Lock()
	delete(n.used, a)
	n.mu.Unlock()
}

// freeAddr returns the lowest free host address above .1 (kept for a
// gateway); n.mu is held.
func (n *Network) freeAddr() (netip.Addr, bool) {
	a := n.subnet.Addr().Next().Next()
	for ; n.subnet.Contains(a); a = a.Next() {
		if !n.subnet.Contains(a.Next()) {
			break // the broadcast address
		}
		if !n.used[a] {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// run runs ip(8) once per argument list, stopping at the first failure.
func (n *Network) run(ctx context.Context, cmds ...[]string) error {
	for _, args := range cmds {
		if err := runIP(ctx, n.ip, args...); err != nil {
			return err
		}
	}
	return nil
}

func runIP(ctx context.Context, ip string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, ip, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// DeleteNS deletes a named network namespace; one already gone is no error.
func DeleteNS(ctx context.Context, ip, ns string) error {
	if !nsExists(ns) {
		return nil
	}
	return runIP(ctx, ip, "netns", "del", ns)
}
