package agent_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestExpiredShareLinksLeaveTheSecret: a running interactive job's shares
// Secret on a real control plane holds the hashes of its live share
// links only. When a link expires by the agent's clock (moved by hand
// here), the agent takes it out of the Secret by itself — no word from
// the hub — and keeps the others.
func TestExpiredShareLinksLeaveTheSecret(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var skew atomic.Int64 // how far the agent's clock is ahead
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	c := startRuntimeCluster(t, ctx, 1, func(cfg *agent.ClusterConfig) { cfg.Now = now })
	c.run(t, ctx)

	start := now().UTC()
	hour, past := start.Add(time.Hour), start.Add(-time.Minute)
	js := rtJob(7, 1)
	js.Command = structs.Command{Path: "/usr/bin/jupyter-lab", Interactive: true, Ports: []string{"8888/tcp"}}
	js.Job.Shares = []structs.JobShare{
		{Name: "hour", TokenHash: structs.HashShareToken("fjs_hour"), Created: start, Expires: &hour},
		{Name: "always", TokenHash: structs.HashShareToken("fjs_always"), Created: start},
		// Expired before the job ran: never written.
		{Name: "gone", TokenHash: structs.HashShareToken("fjs_gone"), Created: start.Add(-time.Hour), Expires: &past},
	}
	c.ag.Jobs.AddInput(js)
	keys := func() (bool, string) {
		sec, err := c.env.Client.CoreV1().Secrets(rtNS).Get(ctx, runtime.ShareSecretName(7), metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return true, strings.Join(slices.Sorted(maps.Keys(sec.Data)), ",")
	}
	waitFor(t, time.Minute, "the live links in the shares Secret", func() (bool, string) {
		ok, got := keys()
		return ok && got == "always,hour", got
	})

	skew.Store(int64(2 * time.Hour)) // "hour" expired
	waitFor(t, time.Minute, "the expired link out of the shares Secret", func() (bool, string) {
		ok, got := keys()
		return ok && got == "always", fmt.Sprint(got)
	})
}
