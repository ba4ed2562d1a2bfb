package structs

import (
	"crypto/sha256"
	"encoding/hex"
)

// BatchAppPrefix begins the name of every batch app.
const BatchAppPrefix = "batch-"

// BatchAppName is the name of owner's batch app for image: the private
// app the hub makes to run owner's job scripts in that image
// (flotilla sbatch, POST /v1/jobs with a script, /jarvice/batch).
func BatchAppName(owner, image string) string {
	h := sha256.Sum256([]byte(owner + "\x00" + image))
	return BatchAppPrefix + hex.EncodeToString(h[:8])
}

// IsBatchApp reports whether a is a batch app: a private app named
// BatchAppName of its owner and image. Listings leave them out unless
// asked for every app: their jobs are the user's script jobs, not a
// catalog entry.
func (a *App) IsBatchApp() bool {
	return a.Visibility == VisibilityPrivate && a.Owner != "" && a.Image != "" &&
		len(a.Name) == len(BatchAppPrefix)+16 && a.Name == BatchAppName(a.Owner, a.Image)
}
