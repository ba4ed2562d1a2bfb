package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"sigs.k8s.io/yaml"
)

// decodeObjects reads JSON or YAML holding one T or a list of them.
// Decoding is strict: unknown fields and trailing data are errors.
func decodeObjects[T any](data []byte) ([]T, error) {
	js := bytes.TrimSpace(data)
	if len(js) == 0 || (js[0] != '{' && js[0] != '[') {
		// YAML (JSON files, which YAML parsers read leniently, stay JSON).
		if multiDocument(data) {
			return nil, errors.New("several YAML documents: put the objects in one list instead")
		}
		var err error
		if js, err = yaml.YAMLToJSON(data); err != nil {
			return nil, err
		}
		js = bytes.TrimSpace(js)
	}
	var err error
	if len(js) == 0 || bytes.Equal(js, []byte("null")) {
		return nil, errors.New("empty")
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var out []T
	if js[0] == '[' {
		err = dec.Decode(&out)
	} else {
		var one T
		if err = dec.Decode(&one); err == nil {
			out = []T{one}
		}
	}
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the first value")
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

// readObjects reads a file of T (see decodeObjects); failures are usage
// errors naming the file.
func readObjects[T any](path string) ([]T, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErr(err)
	}
	out, err := decodeObjects[T](data)
	if err != nil {
		return nil, usagef("%s: %v", path, err)
	}
	return out, nil
}

// applyFile parses "apply [-f] FILE" with extra flags from setup and
// returns the file name.
func (s *session) applyFile(path, args []string, setup func(*flag.FlagSet)) (string, error) {
	fs := s.flagSet(path[len(path)-1])
	file := fs.String("f", "", "JSON or YAML file: one object or a list")
	if setup != nil {
		setup(fs)
	}
	pos, err := s.leaf(fs, path, "[-f] FILE", 0, 1, args)
	if err != nil {
		return "", err
	}
	switch {
	case *file != "" && len(pos) == 1:
		return "", usagef("give the file once: -f FILE or FILE")
	case len(pos) == 1:
		return pos[0], nil
	case *file == "":
		fs.Usage()
		return "", usagef("%s: a file is required", path[len(path)-1])
	}
	return *file, nil
}

// applyAll validates every object, then writes them one by one (with put,
// a client Put method), so a bad file sends nothing. what names the kind
// in messages.
func applyAll[T any](ctx context.Context, s *session, file, what string, objs []T,
	validate func(T) error, name func(T) string, put func(context.Context, T, ...client.WriteOption) (T, error)) error {
	for i, o := range objs {
		if err := validate(o); err != nil {
			return usagef("%s: %s %d: %v", file, what, i+1, err)
		}
	}
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		stored, err := put(ctx, o)
		if err != nil {
			return withPrefix(what+" "+name(o), err)
		}
		out = append(out, stored)
		if !s.json() {
			fmt.Fprintf(s.stdout, "%s %s applied\n", what, name(o))
		}
	}
	if s.json() {
		return s.printJSON(out)
	}
	return nil
}

// nameArg parses "COMMAND [flags] NAME".
func (s *session) nameArg(path, args []string, setup func(*flag.FlagSet)) (string, error) {
	fs := s.flagSet(path[len(path)-1])
	if setup != nil {
		setup(fs)
	}
	pos, err := s.leaf(fs, path, "NAME", 1, 1, args)
	if err != nil {
		return "", err
	}
	return pos[0], nil
}

// noArgs parses "COMMAND [flags]".
func (s *session) noArgs(path, args []string, setup func(*flag.FlagSet)) error {
	fs := s.flagSet(path[len(path)-1])
	if setup != nil {
		setup(fs)
	}
	_, err := s.leaf(fs, path, "", 0, 0, args)
	return err
}

// multiDocument reports whether YAML data holds more than one document
// (a "---" separator after content), of which YAMLToJSON would read only
// the first.
func multiDocument(data []byte) bool {
	content := false
	for line := range bytes.Lines(data) {
		t := bytes.TrimSpace(line)
		switch {
		case bytes.HasPrefix(t, []byte("---")) && content:
			return true
		case len(t) > 0 && t[0] != '#' && !bytes.HasPrefix(t, []byte("---")):
			content = true
		}
	}
	return false
}

// applyObjects runs an "apply -f FILE" command for a list of objects of
// type T: it reads FILE, validates every object, then PUTs each (see
// applyAll). put is the client's Put method.
func applyObjects[T any](ctx context.Context, s *session, path, args []string, what string,
	validate func(*T) error, name func(*T) string,
	put func(*client.Client, context.Context, *T, ...client.WriteOption) (*T, error)) error {
	file, err := s.applyFile(path, args, nil)
	if err != nil {
		return err
	}
	objs, err := readObjects[*T](file)
	if err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	return applyAll(ctx, s, file, what, objs, nonNil(validate), name,
		func(ctx context.Context, o *T, opts ...client.WriteOption) (*T, error) {
			return put(cl, ctx, o, opts...)
		})
}
