//go:build tools

// Package tools pins Dex, the OIDC provider the portal's browser tests log
// in through, apart from the project's own dependencies.
package tools

import _ "github.com/dexidp/dex/cmd/dex"
