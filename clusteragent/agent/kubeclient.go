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

// WireConfig is the agent's connection to its API server: protobuf
// (Protobuf) and no gzip. The agent runs beside its API server, where
// compression costs both sides CPU and saves nothing worth it: since
// Kubernetes 1.37 an informer's watch (a streaming list, client-go's
// default since 0.35) is gzip-compressed for its whole life when the
// client accepts gzip, the API server compressing and the agent
// decompressing every pod event separately (a gzip stream per flush).
func WireConfig(cfg *rest.Config) *rest.Config {
	Protobuf(cfg)
	cfg.DisableCompression = true
	return cfg
}
