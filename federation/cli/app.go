package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// appTree is `flotilla app`: AppDefs as a JARVICE app developer uses them.
func appTree() []*cmd {
	return []*cmd{
		{name: "validate", summary: "check an AppDef.json with the hub's validator; lists every error with its JSON path", run: runAppValidate},
		{name: "register", summary: "register an app from an image carrying its AppDef (/etc/NAE/AppDef.json) or from an AppDef.json file", run: runAppRegister},
		{name: "pull-secret", summary: "set, rotate (-file F: docker config JSON) or remove (-remove) an app's pull credential without registering its image again", run: runAppPullSecret},
		{name: "sync", summary: "sync the catalog from a source: a directory of AppDefs, images:REF[,REF...] or hub:URL; reports added, updated, removed, refused", run: runAppSync},
	}
}

// runAppValidate checks an AppDef file offline: every error on stderr as
// "PATH: RULE", warnings too; exit code ExitUsage when invalid.
func runAppValidate(_ context.Context, s *session, path, args []string) error {
	fs := s.flagSet(path[len(path)-1])
	pos, err := s.leaf(fs, path, "FILE", 1, 1, args)
	if err != nil {
		return err
	}
	doc, err := os.ReadFile(pos[0])
	if err != nil {
		return usageErr(err)
	}
	_, res := appdef.Parse(doc)
	for _, w := range res.Warnings() {
		fmt.Fprintf(s.stderr, "warning: %s\n", w)
	}
	var ve *structs.ValidationError
	if err := res.Err(); errors.As(err, &ve) {
		for _, f := range ve.Errors {
			fmt.Fprintf(s.stderr, "%s: %s\n", f.Path, f.Rule)
		}
		return usagef("%s: %d errors", pos[0], len(ve.Errors))
	}
	fmt.Fprintf(s.stdout, "%s: valid\n", pos[0])
	return nil
}
