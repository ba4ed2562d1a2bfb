package appdef

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Document is the JSON of a stored AppDef: as registered when it was
// decoded from JSON, else its modelled fields.
func Document(d *structs.AppDef) ([]byte, error) {
	if len(d.Raw) > 0 {
		return d.Raw, nil
	}
	return json.Marshal(d)
}

// Check validates a stored AppDef as every entry point must before it is
// stored: nil error, or a *structs.ValidationError listing every error
// with its JSON path. The warnings name fields the reference does not
// define (kept unchanged).
func Check(d *structs.AppDef) (warnings []string, err error) {
	doc, err := Document(d)
	if err != nil {
		return nil, structs.Errorf(structs.ErrInvalid, "appdef: %v", err)
	}
	_, res := Parse(doc)
	return res.Warnings(), res.Err()
}

// CommandOf reads the full model of a stored command (key is its name).
func CommandOf(c *structs.Command, key string) (*Command, error) {
	doc := []byte(c.Raw)
	if len(doc) == 0 {
		var err error
		if doc, err = json.Marshal(c); err != nil {
			return nil, err
		}
	}
	return ParseCommand(key, doc)
}

// MaxIconBytes bounds an AppDef's icon (the decoded "image" data).
const MaxIconBytes = 256 << 10

// IconTypes are the media types an icon may have: raster images only (an
// SVG may carry script).
var IconTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp"}

// IconOf returns a stored AppDef's icon, decoded, and its media type; ok
// is false when it has none (or none the validator would let in).
func IconOf(d *structs.AppDef) (mediaType string, data []byte, ok bool) {
	ic := d.Icon
	if ic == nil || ic.Data == "" || !slices.Contains(IconTypes, ic.Type) {
		return "", nil, false
	}
	b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(ic.Data), ""))
	if err != nil || len(b) == 0 || len(b) > MaxIconBytes {
		return "", nil, false
	}
	return ic.Type, b, true
}
