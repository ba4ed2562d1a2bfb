package hubconfig

import (
	"time"

	"github.com/flotilla-hpc/flotilla/federation/portal"
)

// EnvOIDCClientSecret holds the portal's OIDC client secret unless
// portal.oidc_client_secret_file names a file.
const EnvOIDCClientSecret = "FLOTILLA_OIDC_CLIENT_SECRET"

// PortalSettings configure the web portal every replica serves:
//
//	portal:
//	  session_ttl: 12h
//	  oidc_client_secret_file: /etc/flotilla/oidc-secret
//	  oidc:
//	    issuer: https://login.example.org
//	    client_id: flotilla
//	    redirect_url: https://hpc.example.org/ui/oidc/callback
//	    display_name: Example SSO
//	    rules:
//	    - {name: physicists, email: "*@physics.example.org", tenant: physics}
//	    - {name: admins, group: hpc-admins, tenant: system, role: admin}
type PortalSettings struct {
	SessionTTL           Duration           `json:"session_ttl,omitempty"`
	OIDC                 *portal.OIDCConfig `json:"oidc,omitempty"`
	OIDCClientSecretFile string             `json:"oidc_client_secret_file,omitempty"`
}

func (p *PortalSettings) secretFile() string {
	if p == nil {
		return ""
	}
	return p.OIDCClientSecretFile
}

// apply puts the settings into the hub's portal configuration.
func (p *PortalSettings) apply(dst *portal.Config, secret Secret) {
	if p == nil {
		return
	}
	dst.SessionTTL = time.Duration(p.SessionTTL)
	if p.OIDC != nil {
		c := *p.OIDC
		c.ClientSecret = secret.Reveal()
		dst.OIDC = &c
	}
}
