package appdef

import (
	"encoding/json"

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
