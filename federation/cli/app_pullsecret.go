package cli

import (
	"context"
	"os"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// runAppPullSecret is `flotilla app pull-secret APP -file F | -remove`:
// it sets or rotates the app's pull credential from a docker config JSON
// file, or removes it, without registering the image again (PUT and
// DELETE /v1/apps/{name}/pull-secret). The credential is never printed.
func runAppPullSecret(ctx context.Context, s *session, path, args []string) error {
	fs := s.flagSet(path[len(path)-1])
	file := fs.String("file", "", "docker config JSON (auths) with the registry's credentials: sets or replaces the app's pull credential")
	remove := fs.Bool("remove", false, "remove the app's pull credential (its jobs and pre-pulls then pull without one)")
	pos, cl, err := s.leafClient(fs, path, "APP", 1, 1, args)
	if err != nil {
		return err
	}
	if (*file == "") == !*remove {
		return usagef("%s: give -file F to set the credential or -remove to remove it", strings.Join(path, " "))
	}
	var app *structs.App
	if *remove {
		if app, err = cl.RemoveAppPullSecret(ctx, pos[0]); err != nil {
			return err
		}
		return s.show(app, func() error { return s.line("app %s: no pull credential", app.Name) })
	}
	doc, err := readPullSecretFile("-file", *file)
	if err != nil {
		return err
	}
	if app, err = cl.SetAppPullSecret(ctx, pos[0], doc); err != nil {
		return err
	}
	return s.show(app, func() error {
		return s.line("app %s: pull credential for %s", app.Name, strings.Join(app.PullSecretRegistries, ", "))
	})
}

// readPullSecretFile reads a docker config JSON file given by flag and
// checks it names a registry with credentials (a usage error, which never
// quotes the file, otherwise).
func readPullSecretFile(flag, file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", usagef("%s: %v", flag, err)
	}
	if _, err := structs.PullSecretRegistries("pull_secret", string(b)); err != nil {
		return "", usagef("%s %s: %v", flag, file, err)
	}
	return string(b), nil
}
