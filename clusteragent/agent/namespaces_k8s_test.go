package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// TestAgentSchedulesSeveralNamespaces: one agent runs its own jobs in its
// namespace and gang-schedules the Flotilla pods other tools create in the
// further namespaces it is given, and leaves every other namespace alone.
func TestAgentSchedulesSeveralNamespaces(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real control plane (FLOTILLA_BIN tools); skipped in -short")
	}
	env := k8senv.Start(t, k8senv.Options{Name: "multi"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var nodes []k8senv.NodeSpec
	for i := range 6 {
		nodes = append(nodes, k8senv.NodeSpec{Name: fmt.Sprintf("n%d", i), CPU: "16", Memory: "64Gi"})
	}
	if err := env.AddNodes(ctx, nodes...); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"team-b", "elsewhere"} {
		if err := env.CreateNamespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	a := agent.NewCluster(agent.ClusterConfig{Client: env.Client, NamespacePrefix: "hpc", ExtraNamespaces: []string{"team-b"}, Image: "solver:1",
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	defer func() { stop(); <-done }()

	mt := &structs.MachineType{Name: "m8", Cores: 8, Slots: 8, RAM: 16}
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	a.Jobs.AddInput(runtime.Input{Job: &structs.Job{ID: "own", Number: 1, Tenant: "acme", Owner: "u", App: "a", MachineType: "m8",
		Nodes: 2, State: structs.JobAssigned, SubmitTime: t0}, MachineType: mt, Command: structs.Command{Path: "/opt/run.sh"}})
	// Gangs made by another tool, in a namespace the agent schedules and in one it does not.
	for _, ns := range []string{"team-b", "elsewhere"} {
		pods, err := podgroup.Build(&structs.Job{ID: "ext-" + ns, Number: 7, Tenant: "acme", Nodes: 2, SubmitTime: t0}, mt,
			podgroup.Options{Namespace: ns, Image: "tool:1"})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods {
			if _, err := env.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	bound := func(ns string) int {
		l, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range l.Items {
			if p.Spec.NodeName != "" {
				n++
			}
		}
		return n
	}
	waitFor(t, time.Minute, "the agent's job and team-b's gang bound", func() (bool, string) {
		h, b := bound(podgroup.TenantNamespace("hpc", "acme")), bound("team-b")
		return h == 2 && b == 2, fmt.Sprintf("hpc %d, team-b %d bound", h, b)
	})
	if n := bound("elsewhere"); n != 0 {
		t.Errorf("%d pods bound in a namespace the agent does not own", n)
	}
}
