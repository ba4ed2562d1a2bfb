package cli

import (
	"context"
	"flag"
	"fmt"
)

// Hub replicas.

func runReplicasList(ctx context.Context, s *session, path, args []string) error {
	var local bool
	if err := s.noArgs(path, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&local, "local", false, "the answering replica's own view, even without a leader")
	}); err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	reps, err := cl.ListReplicas(ctx, !local)
	if err != nil {
		return err
	}
	return s.show(orEmpty(reps), func() error {
		rows := make([][]string, len(reps))
		for i, r := range reps {
			rows[i] = []string{r.ID, r.RaftAddress, dash(r.APIAddress), r.Suffrage, yes(r.Leader)}
		}
		return s.table([]string{"ID", "RAFT", "API", "SUFFRAGE", "LEADER"}, rows)
	})
}

func runReplicaRemove(ctx context.Context, s *session, path, args []string) error {
	pos, err := s.leaf(s.flagSet(path[len(path)-1]), path, "ID", 1, 1, args)
	if err != nil {
		return err
	}
	id := pos[0]
	cl, err := s.client()
	if err != nil {
		return err
	}
	if err := cl.RemoveReplica(ctx, id); err != nil {
		return err
	}
	return s.show(map[string]string{"removed": id}, func() error {
		return s.line("%s", fmt.Sprintf("replica %s removed from the hub cluster", id))
	})
}
