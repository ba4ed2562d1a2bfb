// Package idmapper serves users' identities read from a shared home
// directory: GET /map/<user> answers the home directory and the uid/gid
// that own it, so jobs run as the user who owns the files they touch. The
// agent asks it for jobs whose user record carries no uid/gid.
package idmapper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Mapping is the answer for one user.
type Mapping struct {
	User string `json:"user"`
	Home string `json:"home"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
}

var validUser = regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,63}$`)

// Handler serves /map/<user> from home directories under root.
func Handler(root string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /map/{user}", func(w http.ResponseWriter, r *http.Request) {
		user := r.PathValue("user")
		if !validUser.MatchString(user) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("invalid user name %q", user)})
			return
		}
		home := filepath.Join(root, user)
		fi, err := os.Stat(home)
		if errors.Is(err, os.ErrNotExist) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no home directory for " + user})
			return
		}
		st, ok := statOwner(fi, err)
		if !ok {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "cannot read the owner of " + home})
			return
		}
		writeJSON(w, http.StatusOK, Mapping{User: user, Home: home, UID: int(st.Uid), GID: int(st.Gid)})
	})
	return mux
}

func statOwner(fi os.FileInfo, err error) (*syscall.Stat_t, bool) {
	if err != nil || !fi.IsDir() {
		return nil, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return st, ok
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Client asks an id-mapper.
type Client struct {
	Base string // e.g. http://idmapper.flotilla:8080
	HTTP *http.Client
}

// Lookup returns the identity of user, or ok=false when the mapper knows
// no home directory for them.
func (c *Client) Lookup(ctx context.Context, user string) (structs.Identity, bool, error) {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/map/"+url.PathEscape(user), nil)
	if err != nil {
		return structs.Identity{}, false, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return structs.Identity{}, false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		var m Mapping
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			return structs.Identity{}, false, fmt.Errorf("idmapper: %w", err)
		}
		return structs.Identity{UID: m.UID, GID: m.GID}, true, nil
	case http.StatusNotFound:
		return structs.Identity{}, false, nil
	}
	return structs.Identity{}, false, fmt.Errorf("idmapper: %s for %q", resp.Status, user)
}
