// Package scheduler imports net/http: a pure package off its allow-list.
package scheduler

import (
	"net/http"
	"slices"
)

// Fits reports whether a fits.
func Fits(a []int) bool { return slices.Contains(a, http.StatusOK) }
