package main

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc/arraytask"
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

// TestTaskCPUBindFlag: an array's binding comes from --task-cpu-bind, else
// from the job variable the hub carries it in, else the default; an
// unknown one is a usage error.
func TestTaskCPUBindFlag(t *testing.T) {
	base := []string{"--role", "head", "--array", "1-4", "--array-slots", "2"}
	for name, tc := range map[string]struct {
		flag, env string
		want      arraytask.CPUBind
		bad       bool
	}{
		"default":       {want: arraytask.DefaultCPUBind},
		"flag":          {flag: "slots", want: arraytask.CPUBindSlots},
		"job variable":  {env: "slots", want: arraytask.CPUBindSlots},
		"flag wins":     {flag: "none", env: "slots", want: arraytask.CPUBindNone},
		"unknown flag":  {flag: "cores", bad: true},
		"unknown value": {env: "1", bad: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(arraytask.CPUBindVar, tc.env)
			args := slices.Clone(base)
			if tc.flag != "" {
				args = append(args, "--task-cpu-bind", tc.flag)
			}
			cfg, err := parseRun(append(args, "--", "/bin/true"), nil, nil)
			switch {
			case tc.bad && !errors.Is(err, initproc.ErrUsage):
				t.Fatalf("parse: %v, want a usage error", err)
			case tc.bad:
				return
			case err != nil:
				t.Fatal(err)
			}
			if cfg.Array.CPUBind != tc.want {
				t.Errorf("binding %q, want %q", cfg.Array.CPUBind, tc.want)
			}
		})
	}
}
