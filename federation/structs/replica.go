package structs

import (
	"strconv"
	"strings"
)

// Replica is one hub replica in the replicated replica directory: its raft
// id, the raft address its peers dial and the base URL of its API, where
// the other replicas forward writes while it leads. The raft configuration
// says who votes; the directory says how to reach each member's API.
type Replica struct {
	RaftIndex
	ID          string `json:"id"`
	RaftAddress string `json:"raft_address"`
	APIAddress  string `json:"api_address"`
	// Commands lists the raft command types the replica's binary applies,
	// as ascending ranges ("1-33,41-42,80"); empty for a binary older than
	// the list. A leader writes a command type added since (fsm.Gated)
	// only when every replica lists it.
	Commands string `json:"commands,omitempty"`
}

// Copy returns a copy of r.
func (r *Replica) Copy() *Replica {
	if r == nil {
		return nil
	}
	n := *r
	return &n
}

// Validate checks the id, that the raft address is a dialable host:port
// and that the API address is an http(s) base URL without a query,
// fragment, credentials or trailing slash.
func (r *Replica) Validate() error {
	if err := validName("replica id", r.ID); err != nil {
		return err
	}
	if err := validDialAddress(r.RaftAddress); err != nil {
		return invalidf("replica %q: raft address %q: %v", r.ID, r.RaftAddress, err)
	}
	if err := validBaseURL(r.APIAddress); err != nil {
		return invalidf("replica %q: api address %q: %v", r.ID, r.APIAddress, err)
	}
	return nil
}

// Same reports whether r and o name the same replica at the same addresses,
// applying the same commands.
func (r *Replica) Same(o *Replica) bool {
	return r != nil && o != nil && r.ID == o.ID && r.RaftAddress == o.RaftAddress && r.APIAddress == o.APIAddress &&
		r.Commands == o.Commands
}

// ReplicaJoin is the body of the internal join endpoint: the replica to add
// to the hub cluster as a voter, or first as a non-voter (Learner) that
// receives the log without counting for the quorum until it has caught up;
// joining again without Learner then promotes it.
type ReplicaJoin struct {
	ID          string `json:"id"`
	RaftAddress string `json:"raft_address"`
	APIAddress  string `json:"api_address"`
	Learner     bool   `json:"learner,omitempty"`
	// Commands is the joining binary's Replica.Commands.
	Commands string `json:"commands,omitempty"`
}

// Replica returns the directory entry of the joining replica.
func (j *ReplicaJoin) Replica() *Replica {
	return &Replica{ID: j.ID, RaftAddress: j.RaftAddress, APIAddress: j.APIAddress, Commands: j.Commands}
}

// ReplicaJoined is the reply of the internal join endpoint: the replica is
// a voter, and the cluster's state up to Index includes its directory
// entry; Leader is the raft id of the leader that added it.
type ReplicaJoined struct {
	Index  uint64 `json:"index"`
	Leader string `json:"leader"`
}

// ReplicaRemove is the body of the internal remove endpoint.
type ReplicaRemove struct {
	ID string `json:"id"`
}

// Suffrage of a replica in the raft configuration, as GET /v1/replicas
// shows it.
const (
	SuffrageVoter    = "voter"
	SuffrageNonvoter = "nonvoter"
	SuffrageStaging  = "staging"
	// SuffrageNone: listed in the directory but not in the raft
	// configuration (e.g. a join that did not finish); remove it.
	SuffrageNone = "none"
)

// ReplicaStatus is one entry of GET /v1/replicas: a replica of the
// directory or the raft configuration (as the answering replica knows it),
// how it votes and whether it leads. APIAddress is empty for a member the
// directory does not list (yet).
type ReplicaStatus struct {
	ID          string `json:"id"`
	RaftAddress string `json:"raft_address"`
	APIAddress  string `json:"api_address,omitempty"`
	Suffrage    string `json:"suffrage"`
	Leader      bool   `json:"leader,omitempty"`
	// Commands are the raft command types the replica's binary applies
	// (Replica.Commands; empty for an older binary).
	Commands string `json:"commands,omitempty"`
}

// validDialAddress checks host:port for an address peers can dial: a host
// that is neither empty nor unspecified (0.0.0.0, ::) and a port in
// 1..65535.
func validDialAddress(s string) error {
	host, port, err := splitHostPort(s)
	if err != nil {
		return err
	}
	if port == "" {
		return errorString("want host:port")
	}
	if host == "0.0.0.0" || host == "::" || strings.Trim(host, ":0") == "" {
		return errorString("not an address peers can dial")
	}
	return nil
}

// validBaseURL checks an http(s) base URL: scheme, host and optional port,
// optional path without a trailing slash; no credentials, query or fragment.
func validBaseURL(s string) error {
	rest, ok := strings.CutPrefix(s, "http://")
	if !ok {
		if rest, ok = strings.CutPrefix(s, "https://"); !ok {
			return errorString("want http(s)://host[:port]")
		}
	}
	hostport, path, hasPath := strings.Cut(rest, "/")
	if strings.ContainsAny(rest, "?#@\\") || strings.ContainsFunc(rest, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return errorString("want a base URL without credentials, query, fragment or spaces")
	}
	if hasPath && (path == "" || strings.HasSuffix(path, "/")) {
		return errorString("no trailing slash")
	}
	host, _, err := splitHostPort(hostport)
	if err != nil {
		return err
	}
	if host == "" {
		return errorString("no host")
	}
	return nil
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port" and
// checks the port; port is "" when absent.
func splitHostPort(s string) (host, port string, err error) {
	if s == "" {
		return "", "", errorString("empty")
	}
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", errorString("unclosed [")
		}
		host, rest := s[1:end], s[end+1:]
		switch {
		case rest == "":
		case rest[0] == ':':
			port = rest[1:]
			if port == "" {
				return "", "", errorString("empty port")
			}
		default:
			return "", "", errorString("junk after ]")
		}
		if host == "" || strings.ContainsAny(host, "[]") {
			return "", "", errorString("bad IPv6 host")
		}
		return host, port, checkPort(port)
	}
	if strings.ContainsAny(s, "[]") {
		return "", "", errorString("stray bracket")
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, "", nil
	}
	if strings.IndexByte(s, ':') != i {
		return "", "", errorString("IPv6 host wants [brackets]")
	}
	host, port = s[:i], s[i+1:]
	if port == "" {
		return "", "", errorString("empty port")
	}
	return host, port, checkPort(port)
}

func checkPort(p string) error {
	if p == "" {
		return nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || p[0] == '+' || p[0] == '-' {
		return errorString("port " + strconv.Quote(p) + " not in 1..65535")
	}
	return nil
}

// errorString is a plain message, wrapped into an ErrInvalid by the caller.
type errorString string

func (e errorString) Error() string { return string(e) }
