package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/flotilla-hpc/flotilla/catalog-sync/source"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// runAppRegister is `flotilla app register IMAGE|FILE`: a file is read as
// `admin apps apply` reads it; anything else is an image reference whose
// AppDef (/etc/NAE/AppDef.json, or its label) the CLI reads from the
// registry and registers with the image as the app's image.
func runAppRegister(ctx context.Context, s *session, path, args []string) error {
	var name, visibility, team string
	var insecure bool
	fs := s.flagSet(path[len(path)-1])
	fs.StringVar(&name, "name", "", "app name (default: the image repository's last element, or the AppDef's name)")
	fs.StringVar(&visibility, "visibility", "", "public, tenant, team or private (default public)")
	fs.StringVar(&team, "team", "", "the team of a team app")
	image := fs.String("image", "", "container image (for an AppDef file)")
	fs.BoolVar(&insecure, "insecure", false, "plain HTTP to a registry other than loopback")
	noPrePull := fs.Bool("no-prepull", false, "agents do not pre-pull the app's image onto their nodes")
	pullSecretFile := fs.String("pull-secret-file", "", "docker config JSON (auths) with the credentials of a private image's registry: "+
		"the CLI reads the image with it, the hub keeps it for the agents (never shown back)")
	pos, err := s.leaf(fs, path, "IMAGE|FILE", 1, 1, args)
	if err != nil {
		return err
	}
	var pullSecret string
	if *pullSecretFile != "" {
		if pullSecret, err = readPullSecretFile("-pull-secret-file", *pullSecretFile); err != nil {
			return err
		}
	}
	var app *structs.App
	if _, statErr := os.Stat(pos[0]); statErr == nil {
		if app, err = readApp(pos[0], name, visibility, *image); err != nil {
			return err
		}
	} else {
		var opts []source.Option
		if insecure {
			opts = append(opts, source.Insecure())
		}
		if pullSecret != "" {
			opts = append(opts, source.WithDockerConfig(pullSecret))
		}
		doc, err := source.ReadAppDef(ctx, pos[0], opts...)
		if err != nil {
			return err
		}
		if name == "" {
			name = source.AppName(pos[0])
		}
		if visibility == "" {
			visibility = string(structs.VisibilityPublic)
		}
		app = &structs.App{Name: name, Visibility: structs.Visibility(visibility), Image: pos[0], Origin: "image:" + pos[0]}
		if err := app.AppDef.UnmarshalJSON(doc); err != nil {
			return usagef("%s: AppDef: %v", pos[0], err)
		}
	}
	if team != "" {
		app.Team = team
	}
	app.NoPrePull = *noPrePull
	app.PullSecret = pullSecret
	cl, err := s.client()
	if err != nil {
		return err
	}
	return applyAll(ctx, s, pos[0], "app", []*structs.App{app}, checkApp,
		func(a *structs.App) string { return a.Name }, cl.PutApp)
}

// runAppSync is `flotilla app sync SOURCE`: the hub's catalog is made to
// hold exactly the source's apps (of that origin), and the report says
// what was added, updated, removed and refused (and why).
func runAppSync(ctx context.Context, s *session, path, args []string) error {
	fs := s.flagSet(path[len(path)-1])
	keyFile := fs.String("upstream-key-file", "", "file holding the API key for a hub:URL source")
	vis := fs.String("visibility", "", "visibility of apps from AppDef files and images (default public)")
	id := fs.String("id", "", "names an images: source (default: its references)")
	insecure := fs.Bool("insecure", false, "plain HTTP to registries other than loopback")
	pos, err := s.leaf(fs, path, "DIR|images:REF[,REF...]|hub:URL", 1, 1, args)
	if err != nil {
		return err
	}
	src, err := parseSource(pos[0], *keyFile, structs.Visibility(*vis), *id, *insecure)
	if err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	rep, err := source.Sync(ctx, src, source.HubCatalog{Client: cl})
	if err != nil {
		return err
	}
	if s.json() {
		return s.printJSON(rep)
	}
	for _, l := range []struct {
		what  string
		names []string
	}{{"added", rep.Added}, {"updated", rep.Updated}, {"removed", rep.Removed}, {"unchanged", rep.Unchanged}} {
		for _, n := range l.names {
			fmt.Fprintf(s.stdout, "%s %s\n", l.what, n)
		}
	}
	for _, r := range rep.Refused {
		fmt.Fprintf(s.stdout, "refused %s: %s\n", r.App, r.Reason)
	}
	return nil
}

// parseSource reads a SOURCE argument.
func parseSource(arg, keyFile string, vis structs.Visibility, id string, insecure bool) (source.Source, error) {
	src, err := source.Spec{Source: arg, KeyFile: keyFile, Visibility: vis, ID: id, Insecure: insecure}.Open()
	if err != nil {
		return nil, usageErr(err)
	}
	return src, nil
}
