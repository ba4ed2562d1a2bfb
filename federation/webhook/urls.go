package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// metadata are cloud instance-metadata addresses, refused always.
var metadata = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),     // link-local, AWS/GCP/Azure metadata
	netip.MustParsePrefix("fe80::/10"),          // IPv6 link-local
	netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS metadata over IPv6
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba metadata
}

// Refused is a callback URL or address the rules refuse; it is ErrInvalid.
type Refused struct{ Msg string }

func (e *Refused) Error() string { return "webhook url refused: " + e.Msg }

// Unwrap makes it ErrInvalid (a submit with it gets 400).
func (e *Refused) Unwrap() error { return structs.ErrInvalid }

func refused(format string, args ...any) error { return &Refused{Msg: fmt.Sprintf(format, args...)} }

// AllowList is the administrators' list, parsed.
type AllowList struct {
	nets  []netip.Prefix
	hosts []string // exact names, or ".example.com" for "*.example.com"
}

// ParseAllowList parses entries: CIDRs, host names, "*.domain" wildcards.
func ParseAllowList(entries []string) (AllowList, error) {
	var a AllowList
	for _, e := range entries {
		e = strings.ToLower(strings.TrimSpace(e))
		if p, err := netip.ParsePrefix(e); err == nil {
			a.nets = append(a.nets, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(e); err == nil {
			a.nets = append(a.nets, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		host := strings.TrimPrefix(e, "*")
		if host == "" || strings.ContainsAny(host, "/:@ ") {
			return AllowList{}, structs.Errorf(structs.ErrInvalid, "webhook allow-list entry %q: want a CIDR, a host name or *.domain", e)
		}
		a.hosts = append(a.hosts, host)
	}
	return a, nil
}

func (a AllowList) hostListed(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, h := range a.hosts {
		if h == host || (strings.HasPrefix(h, ".") && strings.HasSuffix(host, h)) {
			return true
		}
	}
	return false
}

func (a AllowList) netListed(ip netip.Addr) bool {
	for _, p := range a.nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// CheckAddr is the dial-time rule on an address: never link-local,
// metadata, unspecified or multicast; loopback and private addresses only
// when a CIDR entry of the allow-list holds them.
func (a AllowList) CheckAddr(ip netip.Addr) error {
	ip = ip.Unmap()
	for _, p := range metadata {
		if p.Contains(ip) {
			return refused("%s is a link-local or metadata address", ip)
		}
	}
	switch {
	case ip.IsUnspecified() || ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast():
		return refused("%s is not a unicast address", ip)
	case (ip.IsLoopback() || ip.IsPrivate()) && !a.netListed(ip):
		return refused("%s is a loopback or private address the allow-list does not name", ip)
	}
	return nil
}

// Resolver looks host names up (net.DefaultResolver in the hub).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// CheckURL decides whether calls may go to raw: http or https, no user
// info, a host the allow-list names (by name, or every address it
// resolves to inside a CIDR entry), and every address it resolves to
// passing CheckAddr.
func (a AllowList) CheckURL(ctx context.Context, r Resolver, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || len(raw) > 2048 {
		return refused("%q: want an http or https URL without credentials", raw)
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		if addrs, err = r.LookupNetIP(ctx, "ip", host); err != nil || len(addrs) == 0 {
			return refused("%q: host %q does not resolve", raw, host)
		}
	}
	byName := a.hostListed(host)
	for _, ip := range addrs {
		if err := a.CheckAddr(ip); err != nil {
			return refused("%q: %s", raw, err.(*Refused).Msg)
		}
		if !byName && !a.netListed(ip.Unmap()) {
			return refused("%q: not on the administrators' allow-list", raw)
		}
	}
	return nil
}

// Control is a net.Dialer Control function applying CheckAddr to the
// address actually dialled.
func (a AllowList) Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refused("dial %q: not an address", address)
	}
	return a.CheckAddr(ap.Addr())
}

// IsRefused reports whether err is a refusal by these rules.
func IsRefused(err error) bool {
	var r *Refused
	return errors.As(err, &r)
}

// Dialer returns a dialer that checks each address it connects to.
func (a AllowList) Dialer() *net.Dialer { return &net.Dialer{Control: a.Control} }
