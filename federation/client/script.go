package client

import (
	"context"
	"net/http"
)

// JobScript returns the job script of a job submitted with one (flotilla
// sbatch, POST /v1/jobs with "script", /jarvice/batch), to its owner and
// the administrators over it; ErrNotFound for another job.
func (c *Client) JobScript(ctx context.Context, id string) (string, error) {
	var out []byte
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/jobs/" + esc(id) + "/script", raw: &out})
	return string(out), err
}
