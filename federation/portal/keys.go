package portal

import (
	"net/http"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// keysData is the API key page.
type keysData struct {
	Keys []structs.APIKeyInfo
	New  *structs.APIKeyCreated
}

func (p *Portal) keysView(r *http.Request, s *session, created *structs.APIKeyCreated) (*view, error) {
	keys, err := p.api.ListAPIKeys(withIdentity(r.Context(), s.id), s.id.Username)
	if err != nil {
		return nil, err
	}
	return p.newView(s, "API keys", "keys", &keysData{Keys: keys, New: created}), nil
}

func (p *Portal) keysPage(w http.ResponseWriter, r *http.Request, s *session) error {
	v, err := p.keysView(r, s, nil)
	if err != nil {
		return err
	}
	return p.render(w, http.StatusOK, "keys.html", v)
}

// keyCreate makes a named API key and shows it this once.
func (p *Portal) keyCreate(w http.ResponseWriter, r *http.Request, s *session) error {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" || len(name) > 100 {
		return structs.Errorf(structs.ErrInvalid, "key name: 1 to 100 characters")
	}
	k, err := p.api.CreateAPIKey(withIdentity(r.Context(), s.id), s.id.Username, name)
	if err != nil {
		return err
	}
	v, err := p.keysView(r, s, k)
	if err != nil {
		return err
	}
	v.Flash = "Key created. Copy it now: it is not shown again."
	return p.render(w, http.StatusOK, "keys.html", v)
}

func (p *Portal) keyRevoke(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := p.api.RevokeAPIKey(withIdentity(r.Context(), s.id), s.id.Username, r.PathValue("id")); err != nil {
		return hidden(err, "api key "+r.PathValue("id"))
	}
	http.Redirect(w, r, Prefix+"/keys", http.StatusSeeOther)
	return nil
}
