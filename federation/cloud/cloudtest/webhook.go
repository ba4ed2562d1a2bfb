package cloudtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
)

// TokenWebhook is a Kubernetes token review webhook (authentication.k8s.io/v1)
// on loopback: the API server of the control plane standing in for a
// managed cluster sends it the bearer tokens it does not know, as EKS's
// and GKE's API servers check theirs against the cloud.
type TokenWebhook struct {
	URL string
	srv *httptest.Server
}

// NewTokenWebhook serves reviews with check, which returns the user a
// token authenticates (an error: not authenticated). Authenticated users
// are cluster administrators (group system:masters), as the cluster's
// creator is on EKS and GKE.
func NewTokenWebhook(check func(token string) (string, error)) *TokenWebhook {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var review struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Spec       struct {
				Token string `json:"token"`
			} `json:"spec"`
		}
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		status := map[string]any{"authenticated": false}
		if user, err := check(review.Spec.Token); err == nil {
			status = map[string]any{"authenticated": true, "user": map[string]any{"username": user, "groups": []string{"system:masters"}}}
		} else {
			status["error"] = err.Error()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"apiVersion": review.APIVersion, "kind": "TokenReview", "status": status})
	})
	t := &TokenWebhook{srv: httptest.NewServer(h)}
	t.URL = t.srv.URL
	return t
}

// Close stops the webhook.
func (t *TokenWebhook) Close() { t.srv.Close() }
