package api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// getAppIcon is GET /v1/apps/{name}/icon: the AppDef's "image" as the
// image it is, for those who may see the app (404 for an app without an
// icon). It is cached privately and revalidated by its ETag (the data's
// hash): If-None-Match with it answers 304. The image is never run as a
// document (nosniff, a sandboxing Content-Security-Policy).
func (s *Server) getAppIcon(c *call) (any, error) {
	name := c.r.PathValue("name")
	a, err := readOne(c, func(r *state.ReadTxn) (*structs.App, error) { return r.App(name) }, c.useApp)
	if err != nil {
		return nil, err
	}
	typ, data, ok := appdef.IconOf(&a.AppDef)
	if !ok {
		return nil, structs.Errorf(structs.ErrNotFound, "app %q has no icon", name)
	}
	sum := sha256.Sum256(data)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	h := http.Header{}
	h.Set("ETag", etag)
	h.Set("Cache-Control", "private, max-age=300")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	reply := &rawReply{contentType: typ, body: data, header: h}
	for _, t := range strings.Split(c.r.Header.Get("If-None-Match"), ",") {
		if t = strings.TrimSpace(t); t == etag || t == "W/"+etag {
			reply.body, reply.status = nil, http.StatusNotModified
		}
	}
	return reply, nil
}
