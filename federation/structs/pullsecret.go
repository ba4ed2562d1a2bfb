package structs

import (
	"encoding/json"
	"slices"
	"strings"
)

// A pull credential lets the agents read and pull a private app image: a
// docker config JSON (`{"auths": {"registry.example": {"auth":
// "base64(user:password)"}}}`, the content of a Kubernetes
// kubernetes.io/dockerconfigjson Secret). An app's is set by whoever may
// write the app (App.PullSecret) and a job may bring its own
// (JobSubmitRequest.PullSecret, the JARVICE container.pullsecret). The
// hub keeps it in its state and hands it only to agents (assignments and
// their catalog); the API never shows it back — only the registries it
// names (App.PullSecretRegistries) — and errors never quote it.

// MaxPullSecretBytes bounds a pull credential.
const MaxPullSecretBytes = 64 << 10

// dockerAuth is one registry's entry of a docker config: a base64
// user:password, or the parts, or a token.
type dockerAuth struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// PullSecretRegistries checks a pull credential and returns the registry
// hosts it names, sorted: it must be a docker config JSON whose "auths"
// names at least one registry, each with "auth", "username" and
// "password", or a token. The error (ErrInvalid, naming field) never
// quotes the document.
func PullSecretRegistries(field, doc string) ([]string, error) {
	bad := func(msg string) error { return &FieldError{Object: "pull credential", Field: field, Msg: msg} }
	if len(doc) > MaxPullSecretBytes {
		return nil, bad("larger than 64 KiB")
	}
	var cfg struct {
		Auths map[string]dockerAuth `json:"auths"`
	}
	if err := json.Unmarshal([]byte(doc), &cfg); err != nil {
		return nil, bad("not a docker config JSON document")
	}
	if len(cfg.Auths) == 0 {
		return nil, bad(`a docker config JSON names its registries under "auths"; this one names none`)
	}
	var hosts []string
	for k, a := range cfg.Auths {
		h := registryHostOf(k)
		if h == "" || strings.ContainsAny(h, " \t\r\n\"") {
			return nil, bad("an entry of auths names no registry host")
		}
		if a.Auth == "" && (a.Username == "" || a.Password == "") && a.IdentityToken == "" && a.RegistryToken == "" {
			return nil, bad(`the entry of ` + h + ` has no "auth", no "username" and "password", and no token`)
		}
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	slices.Sort(hosts)
	return hosts, nil
}

// registryHostOf is the host of a docker config key
// ("https://index.docker.io/v1/" → "index.docker.io").
func registryHostOf(key string) string {
	h := strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	if i := strings.IndexByte(h, '/'); i >= 0 {
		h = h[:i]
	}
	return strings.ToLower(h)
}

// AppPullSecret is the body of PUT /v1/apps/{name}/pull-secret: the
// app's new pull credential, which replaces the one it has (DELETE of
// that path removes it; nothing else of the app changes either way).
type AppPullSecret struct {
	PullSecret string `json:"pull_secret"`
}
