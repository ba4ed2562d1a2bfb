package agent

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
)

// Protobuf makes cfg's clients talk protobuf to the API server, for the
// built-in types (pods, nodes, bindings, Secrets: everything the agent's
// clientset reads and writes), falling back to JSON for replies in no
// other form. Compared with JSON this costs both sides about half the CPU
// per call, and on a small control plane the API server's CPU is the
// limit of scheduling and creating pods. Patches keep their own content
// type.
func Protobuf(cfg *rest.Config) *rest.Config {
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	return cfg
}
