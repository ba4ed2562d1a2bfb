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
	if d.Icon == nil {
		return "", nil, false
	}
	return iconData(d.Icon.Type, d.Icon.Data)
}

// iconData decodes an icon Flotilla serves: a raster type (image/jpg
// counts as image/jpeg) and base64 data, padded or not (browsers take
// both, and real AppDefs carry both), of at most MaxIconBytes.
func iconData(typ, data string) (mediaType string, b []byte, ok bool) {
	mediaType = iconType(typ)
	if data == "" || !slices.Contains(IconTypes, mediaType) {
		return "", nil, false
	}
	s := strings.TrimRight(strings.Join(strings.Fields(data), ""), "=")
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || len(b) == 0 || len(b) > MaxIconBytes {
		return "", nil, false
	}
	return mediaType, b, true
}

// iconType is the media type an icon is served as.
func iconType(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	if t == "image/jpg" {
		return "image/jpeg"
	}
	return t
}
