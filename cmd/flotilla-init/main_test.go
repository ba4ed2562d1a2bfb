package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// The arguments the runtime renders into the pods parse into the Config the
// pods need: the renderer and these flags agree.
func TestRenderedArgsParse(t *testing.T) {
	job := &structs.Job{ID: "id-1", Number: 9, Name: "bob-2026-01-02-0009", Tenant: "t", Owner: "bob",
		Nodes: 2, SubmitTime: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}
	objs, err := runtime.Render(runtime.Input{
		Job:         job,
		MachineType: &structs.MachineType{Name: "n2", Cores: 2, Slots: 2, RAM: 4},
		Command:     structs.Command{Path: "/bin/echo", Parameters: map[string]structs.Parameter{"msg": {Type: structs.ParamConst, Positional: true, Value: []byte(`"%TCORES% cores"`)}}},
		Random:      rand.NewChaCha8([32]byte{}),
	}, runtime.Options{
		Options:   podgroup.Options{Namespace: "ns", Image: "app:1"},
		InitImage: "init:1",
	})
	if err != nil {
		t.Fatal(err)
	}
	for rank, p := range objs.Pods {
		c := p.Spec.Containers[0]
		if c.Args[0] != "run" {
			t.Fatalf("pod %d: args %q do not start with run", rank, c.Args)
		}
		cfg, err := parseRun(c.Args[1:], nil, nil)
		if err != nil {
			t.Fatalf("pod %d: %v", rank, err)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("pod %d: %v", rank, err)
		}
		want := initproc.Config{
			Role: initproc.RoleWorker, NodesFile: "/etc/flotilla/nodes", KeysDir: runtime.KeysDir,
			RunDir: runtime.InitRunDir, SSHPort: initproc.DefaultSSHPort, ControlPort: initproc.DefaultControlPort,
			PeerTimeout: runtime.DefaultPeerTimeout,
		}
		if rank == 0 {
			want.Role = initproc.RoleHead
			want.Command = []string{"/bin/echo", "4 cores"}
		}
		if cfg.Role != want.Role || cfg.NodesFile != want.NodesFile || cfg.KeysDir != want.KeysDir ||
			cfg.RunDir != want.RunDir || cfg.SSHPort != want.SSHPort || cfg.ControlPort != want.ControlPort ||
			cfg.PeerTimeout != want.PeerTimeout || !slices.Equal(cfg.Command, want.Command) {
			t.Errorf("pod %d: parsed %+v\nwant %+v", rank, cfg, want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"bogus"}, {"copy"}, {"run", "--role", "boss"}, {"run", "--no-such-flag"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != initproc.ExitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %q)", args, code, initproc.ExitUsage, errOut.String())
		}
	}
}
