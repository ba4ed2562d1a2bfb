package raftnode

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/flotilla-hpc/flotilla/internal/hubtls"
)

// tlsFor issues a replica certificate for 127.0.0.1 from ca and returns
// both sides of raft's mutual TLS with it.
func tlsFor(t *testing.T, ca *hubtls.CA, name string) *TLS {
	t.Helper()
	dir := t.TempDir()
	is, err := ca.Issue(name, []string{"127.0.0.1", "localhost"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := is.Write(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	caFile := dir + "/ca.crt"
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := hubtls.LoadReplica(hubtls.Files{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	return &TLS{Server: r.RaftServer(), Client: r.RaftClient()}
}

// strangerTransport is a raft transport of someone who is not a replica:
// plain TCP when tl is nil, else TLS with tl's certificate.
func strangerTransport(t *testing.T, tl *TLS) raft.Transport {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var stream raft.StreamLayer = &tcpStream{ln: ln}
	if tl != nil {
		stream = newTLSStream(stream, *tl, hclog.NewNullLogger())
	}
	tr := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: stream, MaxPool: 1,
		Timeout: 5 * time.Second, Logger: hclog.NewNullLogger()})
	t.Cleanup(func() { tr.Close() })
	return tr
}

// TestRaftRefusesStranger: a replica whose raft transport runs mutual TLS
// refuses a well-formed AppendEntries — a higher term and an entry that
// would write a key — from a client without a certificate and from one
// whose certificate another CA signed: the call fails and neither the
// term nor the state changes. The same request from a holder of a
// certificate the hub CA signed is accepted, so the test can fail.
func TestRaftRefusesStranger(t *testing.T) {
	ca, err := hubtls.NewCA("hub-ca", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, err := hubtls.NewCA("another-ca", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sm := &recorder{}
	cfg := Config{ID: "r0", BindAddr: "127.0.0.1:0", AdvertiseAddr: "127.0.0.1:0", InMemory: true,
		TLS: tlsFor(t, ca, "r0")}.TestTiming()
	n, err := New(cfg, sm, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown() })
	if err := n.Bootstrap([]raft.Server{{ID: "r0", Address: n.Addr(), Suffrage: raft.Voter}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !n.IsLeader() {
		select {
		case <-ctx.Done():
			t.Fatal("no leader")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if _, _, err := n.Apply(ctx, []byte("a=1")); err != nil {
		t.Fatal(err)
	}
	term := func() uint64 {
		v, _ := strconv.ParseUint(n.Stats()["term"], 10, 64)
		return v
	}
	before := term()
	evil := func() *raft.AppendEntriesRequest {
		return &raft.AppendEntriesRequest{
			RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte("intruder")},
			Term:      before + 5, PrevLogEntry: 0, PrevLogTerm: 0, LeaderCommitIndex: 100,
			Entries: []*raft.Log{{Index: 1, Term: before + 5, Type: raft.LogCommand, Data: encodeEnvelope([][]byte{[]byte("admin=intruder")})}},
		}
	}
	for name, tr := range map[string]raft.Transport{
		"no certificate":          strangerTransport(t, nil),
		"certificate of other CA": strangerTransport(t, tlsFor(t, other, "intruder")),
	} {
		var resp raft.AppendEntriesResponse
		err := tr.AppendEntries("r0", n.Addr(), evil(), &resp)
		if err == nil {
			t.Errorf("%s: AppendEntries was accepted (term %d, success %v)", name, resp.Term, resp.Success)
		}
	}
	if got := term(); got != before {
		t.Errorf("term moved from %d to %d", before, got)
	}
	if got := sm.applied(); len(got) != 1 || got[0] != "a=1" {
		t.Errorf("applied commands %q, want only a=1: the intruder's entry went in", got)
	}
	if !n.IsLeader() {
		t.Errorf("the replica stepped down")
	}

	// Control: a holder of a certificate from the hub CA gets through.
	var resp raft.AppendEntriesResponse
	if err := strangerTransport(t, tlsFor(t, ca, "r9")).AppendEntries("r0", n.Addr(), evil(), &resp); err != nil {
		t.Fatalf("a peer with the hub CA's certificate was refused: %v", err)
	}
	if got := term(); got <= before {
		t.Errorf("control: the term did not move (%d), so the refusals above prove nothing", got)
	}
}

// recorder is a StateMachine that keeps the commands it applies.
type recorder struct {
	mu   sync.Mutex
	cmds []string
}

func (r *recorder) ApplyCommands(_ uint64, cmds [][]byte) []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]any, len(cmds))
	for i, c := range cmds {
		r.cmds = append(r.cmds, string(c))
		out[i] = "ok"
	}
	return out
}

func (r *recorder) applied() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.cmds...)
}

func (r *recorder) Snapshot() (raft.FSMSnapshot, error) {
	return nil, errors.New("recorder: no snapshots")
}
func (r *recorder) Restore(io.ReadCloser) error { return errors.New("recorder: no snapshots") }
