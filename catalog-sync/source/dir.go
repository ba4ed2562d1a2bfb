package source

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Dir is a directory of AppDef files (a git checkout): every *.json file
// directly in it is one app named after the file (solver.json → solver),
// or, when the file is a Flotilla app object (with an "appdef" key), as
// that object names it. Bare AppDefs get Visibility (default public) and
// Image as their container image.
type Dir struct {
	Path       string
	Visibility structs.Visibility
	Image      string
}

// maxAppDefFile bounds one file of a directory source.
const maxAppDefFile = 4 << 20

// Origin is "dir:" and the directory's absolute path.
func (d *Dir) Origin() string {
	p, err := filepath.Abs(d.Path)
	if err != nil {
		p = d.Path
	}
	return "dir:" + p
}

// Apps reads the directory's files.
func (d *Dir) Apps(context.Context) ([]*structs.App, []Refusal, error) {
	entries, err := os.ReadDir(d.Path)
	if err != nil {
		return nil, nil, err
	}
	var apps []*structs.App
	var refused []Refusal
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		name := strings.TrimSuffix(e.Name(), ".json")
		a, err := d.read(filepath.Join(d.Path, e.Name()), name)
		if err != nil {
			refused = append(refused, Refusal{name, err.Error()})
			continue
		}
		apps = append(apps, a)
	}
	sort.Slice(apps, func(i, j int) bool { return apps[i].Name < apps[j].Name })
	return apps, refused, nil
}

func (d *Dir) read(file, name string) (*structs.App, error) {
	info, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	if info.Size() > maxAppDefFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", filepath.Base(file), maxAppDefFile)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Base(file), err)
	}
	if _, ok := probe["appdef"]; ok {
		var a structs.App
		if err := json.Unmarshal(data, &a); err != nil {
			return nil, fmt.Errorf("%s: %v", filepath.Base(file), err)
		}
		return &a, nil
	}
	return bareApp(name, data, d.Visibility, d.Image)
}

// bareApp makes an app of a bare AppDef document.
func bareApp(name string, doc []byte, vis structs.Visibility, image string) (*structs.App, error) {
	if _, res := appdef.Parse(doc); res.Err() != nil {
		return nil, res.Err()
	}
	var def structs.AppDef
	if err := json.Unmarshal(doc, &def); err != nil {
		return nil, err
	}
	if vis == "" {
		vis = structs.VisibilityPublic
	}
	return &structs.App{Name: name, Visibility: vis, Image: image, AppDef: def}, nil
}
