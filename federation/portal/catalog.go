package portal

import (
	"net/http"
	"slices"
	"strings"

	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/policy/access"
)

// card is one app in the catalog.
type card struct {
	Name, Title, Description, Icon string
	// HasIcon: the AppDef has an image the hub serves (appdef.IconOf),
	// shown through appIcon; Icon is the title's initial, drawn when it
	// has none.
	HasIcon         bool
	Classifications []string
}

func cardOf(a *structs.App) card {
	_, _, shown := appdef.IconOf(&a.AppDef) // an icon the hub does not serve (SVG, ...) draws the initial
	return card{Name: a.Name, Title: cardTitle(a), Description: a.AppDef.Description,
		Icon: iconOf(a), HasIcon: shown, Classifications: a.AppDef.Classifications}
}

// appIcon serves an app's icon through the API (GET /v1/apps/{name}/icon
// as the session's identity): an app the caller may not see is not found.
func (p *Portal) appIcon(w http.ResponseWriter, r *http.Request, s *session) error {
	typ, data, err := p.api.AppIcon(withIdentity(r.Context(), s.id), r.PathValue("app"))
	if err != nil {
		return hidden(err, "icon of app "+r.PathValue("app"))
	}
	h := w.Header()
	h.Set("Content-Type", typ)
	h.Set("Cache-Control", "private, max-age=300")
	h.Set("X-Content-Type-Options", "nosniff")
	_, err = w.Write(data)
	return err
}

// iconOf returns the letter a card draws for an app without an icon: the
// title's initial.
func iconOf(a *structs.App) string {
	t := cardTitle(a)
	if t == "" {
		return "?"
	}
	return strings.ToUpper(t[:1])
}

func cardTitle(a *structs.App) string {
	if a.AppDef.Name != "" {
		return a.AppDef.Name
	}
	return a.Name
}

// catalog lists the apps the caller may use, searched by text and
// filtered by classification.
func (p *Portal) catalog(w http.ResponseWriter, r *http.Request, s *session) error {
	apps, err := p.api.ListApps(withIdentity(r.Context(), s.id))
	if err != nil {
		return err
	}
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	class := r.URL.Query().Get("class")
	var classes []string
	var cards []card
	for _, a := range apps {
		for _, c := range a.AppDef.Classifications {
			if !slices.Contains(classes, c) {
				classes = append(classes, c)
			}
		}
		if class != "" && !slices.Contains(a.AppDef.Classifications, class) {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(a.Name+" "+a.AppDef.Name+" "+a.AppDef.Description), q) {
			continue
		}
		cards = append(cards, cardOf(a))
	}
	slices.Sort(classes)
	slices.SortFunc(cards, func(a, b card) int { return strings.Compare(a.Title, b.Title) })
	return p.render(w, http.StatusOK, "catalog.html", p.newView(s, "Catalog", "catalog",
		map[string]any{"Cards": cards, "Classes": classes, "Q": r.URL.Query().Get("q"), "Class": class}))
}

// appOf reads an app the caller may use; other apps are not found.
// Nor is a batch app (structs.App.IsBatchApp), which the catalog does
// not list: its page and its form are not found, also by their URL, and
// a POST of its form submits nothing. Its owner, who may read it (GET
// /v1/apps/{name}), is told how its jobs are submitted.
func (p *Portal) appOf(r *http.Request, s *session) (*structs.App, error) {
	a, err := p.api.GetApp(withIdentity(r.Context(), s.id), r.PathValue("app"))
	if err == nil {
		err = access.AppVisible(s.id.Access(), a)
	}
	if err != nil {
		return nil, hidden(err, "app "+r.PathValue("app"))
	}
	if a.IsBatchApp() {
		return nil, structs.Errorf(structs.ErrNotFound, "app %s is the batch app of your job scripts in %s, which has no form: "+
			"its jobs are job scripts, submitted with flotilla sbatch (or POST /v1/jobs with a script), and your jobs list shows them", a.Name, a.Image)
	}
	return a, nil
}

// commandView is one AppDef command on the app page.
type commandView struct {
	Key, Name, Description string
	Interactive            bool
	Parameters             int
}

func (p *Portal) appPage(w http.ResponseWriter, r *http.Request, s *session) error {
	a, err := p.appOf(r, s)
	if err != nil {
		return err
	}
	var cmds []commandView
	for _, k := range sortedKeys(a.AppDef.Commands) {
		c := a.AppDef.Commands[k]
		name := c.Name
		if name == "" {
			name = k
		}
		cmds = append(cmds, commandView{Key: k, Name: name, Description: c.Description,
			Interactive: c.Interactive, Parameters: len(c.Parameters)})
	}
	return p.render(w, http.StatusOK, "app.html", p.newView(s, cardOf(a).Title, "catalog",
		map[string]any{"App": a, "Card": cardOf(a), "Commands": cmds}))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
