package hubconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Peer is one initial replica: its raft id, the raft address peers dial
// and the base URL of its API.
type Peer struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft"`
	API      string `json:"api"`
}

// Bootstrap is the initial voter set: this replica alone (Self) or Peers.
// The zero value means no bootstrap.
type Bootstrap struct {
	Self  bool
	Peers []Peer
}

// IsZero reports whether no bootstrap is configured.
func (b Bootstrap) IsZero() bool { return !b.Self && len(b.Peers) == 0 }

// String renders b in the flag syntax ParseBootstrap reads.
func (b Bootstrap) String() string {
	if b.Self {
		return "self"
	}
	parts := make([]string, len(b.Peers))
	for i, p := range b.Peers {
		parts[i] = p.ID + "=" + p.RaftAddr + "=" + p.API
	}
	return strings.Join(parts, ",")
}

// ParseBootstrap reads "self" (a cluster of this replica alone) or a
// comma-separated list of id=raftaddr=apiaddr entries, e.g.
// "hub0=10.0.0.1:7000=http://10.0.0.1:8080,hub1=...". An API address
// without a scheme gets "http://". "" is no bootstrap.
func ParseBootstrap(s string) (Bootstrap, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return Bootstrap{}, nil
	case "self":
		return Bootstrap{Self: true}, nil
	}
	var b Bootstrap
	for entry := range strings.SplitSeq(s, ",") {
		p, err := parsePeer(strings.TrimSpace(entry))
		if err != nil {
			return Bootstrap{}, err
		}
		b.Peers = append(b.Peers, p)
	}
	return b, nil
}

func parsePeer(entry string) (Peer, error) {
	parts := strings.SplitN(entry, "=", 3)
	if len(parts) != 3 {
		return Peer{}, fmt.Errorf("bootstrap peer %q: want id=raftaddr=apiaddr", entry)
	}
	return Peer{ID: parts[0], RaftAddr: parts[1], API: parts[2]}, nil
}

// UnmarshalJSON reads the flag syntax as a string, or a list whose items
// are id=raftaddr=apiaddr strings or {"id","raft","api"} objects.
func (b *Bootstrap) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		v, err := ParseBootstrap(s)
		if err != nil {
			return err
		}
		*b = v
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil {
		return fmt.Errorf("bootstrap: want a string or a list of peers")
	}
	out := Bootstrap{}
	for _, raw := range items {
		var p Peer
		if raw = bytes.TrimSpace(raw); len(raw) > 0 && raw[0] == '"' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return err
			}
			var err error
			if p, err = parsePeer(s); err != nil {
				return err
			}
		} else {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&p); err != nil {
				return fmt.Errorf("bootstrap peer: %w", err)
			}
		}
		out.Peers = append(out.Peers, p)
	}
	*b = out
	return nil
}

// bootstrapFlag adapts *Bootstrap to flag.Value.
type bootstrapFlag struct{ b *Bootstrap }

func (f bootstrapFlag) String() string {
	if f.b == nil {
		return ""
	}
	return f.b.String()
}

func (f bootstrapFlag) Set(s string) error {
	v, err := ParseBootstrap(s)
	if err != nil {
		return err
	}
	*f.b = v
	return nil
}

// checkPeers validates a peer list: ids, raft addresses and API URLs
// present and unique. It normalizes API addresses to URLs.
func checkPeers(peers []Peer) error {
	ids, addrs, apis := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i := range peers {
		p := &peers[i]
		if p.ID == "" {
			return fmt.Errorf("bootstrap peer %d: empty id", i+1)
		}
		if err := checkHostPort(p.RaftAddr, true); err != nil {
			return fmt.Errorf("bootstrap peer %s: raft address: %w", p.ID, err)
		}
		api, err := normalizeAPI(p.API)
		if err != nil {
			return fmt.Errorf("bootstrap peer %s: api address: %w", p.ID, err)
		}
		p.API = api
		if ids[p.ID] || addrs[p.RaftAddr] || apis[p.API] {
			return fmt.Errorf("bootstrap peer %s: id or address listed twice", p.ID)
		}
		ids[p.ID], addrs[p.RaftAddr], apis[p.API] = true, true, true
	}
	return nil
}

// checkHostPort checks a host:port; concrete refuses an empty or
// unspecified host (0.0.0.0, ::) and port 0, which peers cannot dial.
func checkHostPort(addr string, concrete bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: want host:port", addr)
	}
	if port == "" {
		return fmt.Errorf("%q: no port", addr)
	}
	if concrete {
		if port == "0" {
			return fmt.Errorf("%q: port 0 cannot be dialed", addr)
		}
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			return fmt.Errorf("%q: not an address peers can dial", addr)
		}
	}
	return nil
}

// normalizeAPI turns "host:port" or a URL into a base URL without a
// trailing slash.
func normalizeAPI(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: want http(s)://host:port", s)
	}
	if err := checkHostPort(u.Host, true); err != nil && u.Port() != "" {
		return "", err
	}
	return strings.TrimRight(s, "/"), nil
}
