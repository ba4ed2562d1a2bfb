package install

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// A small reader and linter of the Dockerfiles under deploy/images, so that
// TestImageBuild can check them and run their build stage where no image
// builder runs. It reads the subset of the Dockerfile syntax those files
// use: comments, line continuations, one instruction per logical line.

// instruction is one Dockerfile instruction: its keyword as written, its
// flags (--from=build, --mount=...) and the rest of the line.
type instruction struct {
	Line    int
	Keyword string
	Flags   []string
	Args    string
}

// stage is one FROM and the instructions up to the next.
type stage struct {
	From         instruction
	Image, Name  string // the base image reference as written and the stage name (AS)
	Instructions []instruction
}

// dockerfile is a parsed Dockerfile: the instructions before the first FROM
// (global ARGs) and the stages.
type dockerfile struct {
	Path   string
	Global []instruction
	Stages []stage
}

// parseDockerfile reads path.
func parseDockerfile(path string) (*dockerfile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseDockerfileText(path, string(b))
}

func parseDockerfileText(path, text string) (*dockerfile, error) {
	df := &dockerfile{Path: path}
	var logical strings.Builder
	start := 0
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && logical.Len() == 0) {
			continue // comments, also inside a continued instruction, as Docker reads them
		}
		if logical.Len() == 0 {
			start = i + 1
		}
		if cont, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), `\`); ok {
			logical.WriteString(cont + " ")
			if i < len(lines)-1 {
				continue
			}
		} else {
			logical.WriteString(line)
		}
		in, err := parseInstruction(start, logical.String())
		logical.Reset()
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, start, err)
		}
		if strings.EqualFold(in.Keyword, "FROM") {
			f := strings.Fields(in.Args)
			st := stage{From: in}
			switch {
			case len(f) == 1:
				st.Image = f[0]
			case len(f) == 3 && strings.EqualFold(f[1], "AS"):
				st.Image, st.Name = f[0], f[2]
			default:
				return nil, fmt.Errorf("%s:%d: FROM %q: want IMAGE [AS NAME]", path, start, in.Args)
			}
			df.Stages = append(df.Stages, st)
			continue
		}
		if len(df.Stages) == 0 {
			df.Global = append(df.Global, in)
		} else {
			last := &df.Stages[len(df.Stages)-1]
			last.Instructions = append(last.Instructions, in)
		}
	}
	if len(df.Stages) == 0 {
		return nil, fmt.Errorf("%s: no FROM", path)
	}
	return df, nil
}

func parseInstruction(line int, s string) (instruction, error) {
	kw, rest, _ := strings.Cut(strings.TrimSpace(s), " ")
	in := instruction{Line: line, Keyword: kw}
	rest = strings.TrimSpace(rest)
	for strings.HasPrefix(rest, "--") {
		flag, after, _ := strings.Cut(rest, " ")
		in.Flags = append(in.Flags, flag)
		rest = strings.TrimSpace(after)
	}
	in.Args = rest
	if kw == "" || rest == "" {
		return in, fmt.Errorf("instruction %q without arguments", s)
	}
	return in, nil
}

// flag returns the value of --name=value.
func (in instruction) flag(name string) (string, bool) {
	for _, f := range in.Flags {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// keyValues reads the key=value pairs of ARG, ENV and LABEL (values may be
// double-quoted); a key without '=' has value "" and ok false.
func (in instruction) keyValues() (kv [][2]string, legacy bool) {
	for _, f := range strings.Fields(in.Args) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			legacy = legacy || in.Keyword != "ARG"
		}
		kv = append(kv, [2]string{k, strings.Trim(v, `"`)})
	}
	return kv, legacy
}

// jsonArgs reads the exec form ["a", "b"]; ok is false for the shell form.
func (in instruction) jsonArgs() ([]string, bool) {
	var out []string
	if !strings.HasPrefix(in.Args, "[") || json.Unmarshal([]byte(in.Args), &out) != nil {
		return nil, false
	}
	return out, true
}

// globalArgs are the defaults of the ARGs before the first FROM.
func (df *dockerfile) globalArgs() map[string]string {
	out := map[string]string{}
	for _, in := range df.Global {
		if in.Keyword == "ARG" {
			kv, _ := in.keyValues()
			for _, p := range kv {
				out[p[0]] = p[1]
			}
		}
	}
	return out
}

// stage returns the stage named name.
func (df *dockerfile) stage(name string) (*stage, bool) {
	for i := range df.Stages {
		if df.Stages[i].Name == name {
			return &df.Stages[i], true
		}
	}
	return nil, false
}

var (
	varRef     = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)
	secretName = regexp.MustCompile(`(?i)(password|secret|token|apikey|api_key)`)
)

// lintDockerfile returns what is wrong with df, each problem naming its line:
// instruction keywords and AS in upper case, stage names lower case and
// unique, every base image pinned to a tag or digest other than latest
// (after its ARG default), ARGs used in FROM declared before the first
// FROM, variables used in a stage declared in it (ARG or ENV), COPY --from
// naming an earlier stage, ENV and LABEL in key=value form, absolute
// WORKDIRs, ENTRYPOINT and CMD in exec form, no secrets in ARG or ENV.
func lintDockerfile(df *dockerfile) []string {
	var problems []string
	bad := func(in instruction, format string, a ...any) {
		problems = append(problems, fmt.Sprintf("%s:%d: %s %s", filepath.Base(df.Path), in.Line, in.Keyword, fmt.Sprintf(format, a...)))
	}
	global := df.globalArgs()
	for _, in := range df.Global {
		if in.Keyword != "ARG" {
			bad(in, "before the first FROM: only ARG may stand there")
		}
	}
	var seen []string
	for _, st := range df.Stages {
		all := append([]instruction{st.From}, st.Instructions...)
		for _, in := range all {
			if in.Keyword != strings.ToUpper(in.Keyword) {
				bad(in, "is not upper case")
			}
		}
		if f := strings.Fields(st.From.Args); len(f) == 3 && f[1] != "AS" {
			bad(st.From, "%q: write AS in upper case", st.From.Args)
		}
		if st.Name != "" {
			if st.Name != strings.ToLower(st.Name) {
				bad(st.From, "stage name %q is not lower case", st.Name)
			}
			if slices.Contains(seen, st.Name) {
				bad(st.From, "stage name %q used twice", st.Name)
			}
		}
		image := st.Image
		for _, m := range varRef.FindAllStringSubmatch(st.Image, -1) {
			def, ok := global[m[1]]
			if !ok {
				bad(st.From, "uses ARG %s, not declared before the first FROM", m[1])
			}
			image = strings.NewReplacer("${"+m[1]+"}", def, "$"+m[1], def).Replace(image)
		}
		if !slices.Contains(seen, image) {
			if err := pinned(image); err != nil {
				bad(st.From, "base image %q: %v", image, err)
			}
		}
		declared := map[string]bool{}
		for _, in := range st.Instructions {
			if v, ok := in.flag("from"); ok && !slices.Contains(seen, v) {
				bad(in, "--from=%s: no earlier stage of that name", v)
			}
			for _, m := range varRef.FindAllStringSubmatch(in.Args, -1) {
				_, isGlobal := global[m[1]]
				switch {
				case declared[m[1]]:
				case in.Keyword != "RUN":
					bad(in, "uses $%s, not declared in the stage (ARG or ENV)", m[1])
				case isGlobal:
					// RUN may use what the shell defines; a global build
					// ARG is empty there unless the stage declares it.
					bad(in, "uses global ARG %s without declaring it in the stage (it is empty there)", m[1])
				}
			}
			switch in.Keyword {
			case "ARG", "ENV", "LABEL":
				kv, legacy := in.keyValues()
				if legacy {
					bad(in, "%q: write key=value", in.Args)
				}
				for _, p := range kv {
					if in.Keyword != "LABEL" {
						declared[p[0]] = true
					}
					if secretName.MatchString(p[0]) {
						bad(in, "%s: secrets do not belong in ARG or ENV (they stay in the image)", p[0])
					}
				}
			case "WORKDIR":
				if !strings.HasPrefix(in.Args, "/") {
					bad(in, "%q is not absolute", in.Args)
				}
			case "ENTRYPOINT", "CMD":
				if _, ok := in.jsonArgs(); !ok {
					bad(in, "%q: use the exec form [\"...\"] so signals reach the program", in.Args)
				}
			}
		}
		if st.Name != "" {
			seen = append(seen, st.Name)
		}
	}
	return problems
}

// pinned reports why an image reference is not pinned: no tag or digest,
// or the tag latest.
func pinned(ref string) error {
	if strings.Contains(ref, "@sha256:") {
		return nil
	}
	name := ref[strings.LastIndex(ref, "/")+1:]
	_, tag, ok := strings.Cut(name, ":")
	switch {
	case !ok || tag == "":
		return fmt.Errorf("no tag")
	case tag == "latest":
		return fmt.Errorf("tagged latest")
	}
	return nil
}
