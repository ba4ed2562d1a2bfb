package api

import (
	"context"
	"net/http"

	"github.com/flotilla-hpc/flotilla/federation/authz"
)

// asKey is the context key of an identity authenticated before the API
// sees the request (ServeAs). It is unexported: a request from the
// network can never carry one.
type asKey struct{}

// ServeAs serves r as id, a caller another part of the same replica has
// authenticated (the portal, by its session): the request goes through
// exactly the routes, checks and write path of a network request, without
// a credential of its own. Internal endpoints ignore id and still require
// the replicas' secret. The caller's request rate is limited as for any
// user.
func (s *Server) ServeAs(w http.ResponseWriter, r *http.Request, id *authz.Identity) {
	r.Header.Del("Authorization")
	s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), asKey{}, id)))
}

// preAuthenticated returns the identity ServeAs attached to r, if any.
func preAuthenticated(r *http.Request) (*authz.Identity, bool) {
	id, ok := r.Context().Value(asKey{}).(*authz.Identity)
	return id, ok && id != nil
}
