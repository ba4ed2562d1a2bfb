package portal

import (
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxUpload bounds the file the form takes for an UPLOAD parameter (the
// hub checks the parameter's own size).
const maxUpload = 256 << 10

// readUpload reads UPLOAD field key of a submitted form: the file chosen
// now, else the one the page kept from an earlier try. A browser cannot
// be handed a file back, so a form that comes back with errors carries
// the file in hidden fields (base64, at most maxUpload bytes, inside the
// form's CSRF-checked POST) and says it kept it. It returns the
// parameter's value — base64, as the API takes an upload —, the file's
// name and size ("" and 0 without a file) and a message for the field.
func readUpload(r *http.Request, key string) (value, name string, size int, msg string) {
	if file, hdr, err := r.FormFile("p." + key); err == nil {
		defer file.Close()
		b, err := io.ReadAll(io.LimitReader(file, maxUpload+1))
		switch {
		case err != nil:
			return "", "", 0, "the file could not be read; choose it again."
		case len(b) > maxUpload:
			return "", "", 0, "the file is larger than " + strconv.Itoa(maxUpload>>10) + " KiB."
		}
		return base64.StdEncoding.EncodeToString(b), hdr.Filename, len(b), ""
	}
	kept := r.PostFormValue("upload." + key)
	if kept == "" {
		return "", "", 0, ""
	}
	b, err := base64.StdEncoding.DecodeString(kept)
	if err != nil || len(b) > maxUpload {
		return "", "", 0, "the kept file was damaged; choose it again."
	}
	name = strings.TrimSpace(r.PostFormValue("upload_name." + key))
	if name == "" {
		name = "file"
	}
	return kept, name, len(b), ""
}
