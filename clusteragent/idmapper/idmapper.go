// Package idmapper serves users' identities read from a shared home
// directory: GET /map/<user> answers the home directory and the uid/gid
// that own it, so jobs run as the user who owns the files they touch. The
// agent asks it for jobs whose user record carries no uid/gid.
//
// Root's ids name no job user: a home directory owned by uid 0 (made by
// an administrator on a fresh shared volume and never handed over) maps to
// no identity, and one whose group is gid 0 (chown USER without a group)
// maps to its owner's uid with the default gid. The mapper never answers
// 0, so a job never runs with root's ids because of who made a directory.
package idmapper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

// DefaultGID is the gid Handler answers for a home directory whose group
// is root's: the runtime's default job gid (clusteragent/runtime).
const DefaultGID = 505

// Options tune Handler.
type Options struct {
	// DefaultGID replaces gid 0 in answers; zero means DefaultGID.
	DefaultGID int
}

// CodeRootOwned is the error code of the 404 answer for a home directory
// owned by root: the user has a home, but it names no identity.
const CodeRootOwned = "root_owned"

// errorBody is the JSON body of a refusal.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}

// Handler serves /map/<user> from home directories under root.
func Handler(root string, opts Options) http.Handler {
	defGID := opts.DefaultGID
	if defGID <= 0 {
		defGID = DefaultGID
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /map/{user}", func(w http.ResponseWriter, r *http.Request) {
		user := r.PathValue("user")
		if !validUser.MatchString(user) {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: fmt.Sprintf("invalid user name %q", user)})
			return
		}
		home := filepath.Join(root, user)
		fi, err := os.Stat(home)
		if errors.Is(err, os.ErrNotExist) {
			writeJSON(w, http.StatusNotFound, errorBody{Error: "no home directory for " + user})
			return
		}
		st, ok := statOwner(fi, err)
		if !ok {
			writeJSON(w, http.StatusInternalServerError, errorBody{Error: "cannot read the owner of " + home})
			return
		}
		if st.Uid == 0 {
			writeJSON(w, http.StatusNotFound, errorBody{Code: CodeRootOwned,
				Error: fmt.Sprintf("home directory %s is owned by root, which names no user (chown it to the user's uid and gid)", home)})
			return
		}
		gid := int(st.Gid)
		if gid == 0 {
			gid = defGID
		}
		writeJSON(w, http.StatusOK, Mapping{User: user, Home: home, UID: int(st.Uid), GID: gid})
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
	// Log, if set, hears why a user with a home directory maps to no
	// identity (a root-owned home).
	Log *slog.Logger
}

// Lookup returns the identity of user, or ok=false when the mapper knows
// none for them (no home directory, or one owned by root). An answer with
// uid or gid 0 (a mapper that predates the rule) is treated the same way:
// root's ids never come from a mapper.
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
		if m.UID <= 0 || m.GID <= 0 {
			c.unmapped(user, fmt.Sprintf("the id-mapper answered uid %d, gid %d", m.UID, m.GID))
			return structs.Identity{}, false, nil
		}
		return structs.Identity{UID: m.UID, GID: m.GID}, true, nil
	case http.StatusNotFound:
		var b errorBody
		if json.NewDecoder(resp.Body).Decode(&b) == nil && b.Code == CodeRootOwned {
			c.unmapped(user, b.Error)
		}
		return structs.Identity{}, false, nil
	}
	return structs.Identity{}, false, fmt.Errorf("idmapper: %s for %q", resp.Status, user)
}

// unmapped logs why user maps to no identity.
func (c *Client) unmapped(user, why string) {
	if c.Log != nil {
		c.Log.Warn("id-mapper gives no identity: the job runs as the default job user", "user", user, "reason", why)
	}
}
