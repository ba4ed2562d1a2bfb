package cli

import (
	"context"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// shareTree is `flotilla share`: share links of running interactive jobs.
func shareTree() []*cmd {
	return []*cmd{
		{name: "create", summary: "create a share link of a running interactive job (its URL printed once; --label, --expires 2h)", run: runShareCreate},
		{name: "list", summary: "list a job's share links (names, labels, expiry; never a token)", run: runShareList},
		{name: "revoke", summary: "revoke a share link: it and the sessions opened with it stop working", run: runShareRevoke},
	}
}

// runShareCreate is `flotilla share create [--name N] [--label L]
// [--expires D] JOB`.
func runShareCreate(ctx context.Context, s *session, path, args []string) error {
	fs := s.flagSet(path[len(path)-1])
	var req structs.ShareCreateRequest
	fs.StringVar(&req.Name, "name", "", "the link's name (default share-N): lowercase letters, digits and '-'")
	fs.StringVar(&req.Label, "label", "", "a note for whom the link is")
	fs.StringVar(&req.ExpiresIn, "expires", "", "how long the link works, e.g. 2h or 30m (default: as long as the job runs)")
	refs, cl, err := s.leafClient(fs, path, "JOB", 1, 1, args)
	if err != nil {
		return err
	}
	if req.Name != "" {
		if err := structs.ValidShareName(req.Name); err != nil {
			return usagef("share create: --name: %v", err)
		}
	}
	j, err := findJob(ctx, cl, refs[0])
	if err != nil {
		return err
	}
	out, err := cl.CreateShare(ctx, j.ID, &req)
	if err != nil {
		return err
	}
	return s.show(out, func() error {
		link := out.URL
		if link == "" {
			link = "token " + out.Token
		}
		if err := s.line("Share link %s of job %s (number %d)%s:", out.Name, j.Name, j.Number, expiresText(out.Expires)); err != nil {
			return err
		}
		if err := s.line("%s", link); err != nil {
			return err
		}
		return s.line("It is shown only now; `flotilla share revoke %s %s` ends it.", j.Name, out.Name)
	})
}

// runShareList is `flotilla share list JOB`.
func runShareList(ctx context.Context, s *session, path, args []string) error {
	fs := s.flagSet(path[len(path)-1])
	refs, cl, err := s.leafClient(fs, path, "JOB", 1, 1, args)
	if err != nil {
		return err
	}
	j, err := findJob(ctx, cl, refs[0])
	if err != nil {
		return err
	}
	list, err := cl.ListShares(ctx, j.ID)
	if err != nil {
		return err
	}
	return s.show(list, func() error { return s.shareTable(list) })
}

// runShareRevoke is `flotilla share revoke JOB NAME`.
func runShareRevoke(ctx context.Context, s *session, path, args []string) error {
	fs := s.flagSet(path[len(path)-1])
	pos, cl, err := s.leafClient(fs, path, "JOB NAME", 2, 2, args)
	if err != nil {
		return err
	}
	if err := structs.ValidShareName(pos[1]); err != nil {
		return usagef("share revoke: %v", err)
	}
	j, err := findJob(ctx, cl, pos[0])
	if err != nil {
		return err
	}
	left, err := cl.RevokeShare(ctx, j.ID, pos[1])
	if err != nil {
		return err
	}
	return s.show(left, func() error {
		return s.line("Share link %s of job %s revoked (%d left)", pos[1], j.Name, len(left))
	})
}

// shareTable prints share links as a table.
func (s *session) shareTable(list []structs.ShareInfo) error {
	rows := make([][]string, 0, len(list))
	for _, sh := range list {
		exp := "-"
		if sh.Expires != nil {
			exp = sh.Expires.UTC().Format(time.RFC3339)
		}
		rows = append(rows, []string{sh.Name, orDash(sh.Label), orDash(sh.By), sh.Created.UTC().Format(time.RFC3339), exp})
	}
	return s.table([]string{"NAME", "LABEL", "BY", "CREATED", "EXPIRES"}, rows)
}

// expiresText is ", expires T" or "".
func expiresText(t *time.Time) string {
	if t == nil {
		return ""
	}
	return ", expires " + t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
