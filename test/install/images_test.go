package install

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/test/proc"
)

const (
	imageVersion  = "v9.8.7-2-gabc1234"
	imageRegistry = "registry.example/hpc"
)

// TestImageBuild checks the images without needing an image builder (none
// runs on the CI machine: there is no container engine and no registry to
// pull the base images from):
//   - both Dockerfiles pass lintDockerfile, and the lint catches a broken one;
//   - the Go images' build stage is run as the Dockerfile runs it: its
//     context is the repository less .dockerignore, its COPY, ENV, ARG
//     (VERSION and REGISTRY as build arguments) and RUN instructions are
//     carried out in order in a scratch tree standing in for the stage's
//     file system, with the host's Go, which must be the Go of the stage's
//     base image and of go.mod;
//   - every final stage is the distroless static nonroot base, one binary
//     copied from the build stage, a numeric non-root USER and that binary
//     as ENTRYPOINT; the binary it copies exists, is statically linked and
//     reports the build argument VERSION; the agent names the init and
//     filer images it deploys with that version and registry; the init
//     binary sits where job pods run it (runtime.DefaultInitBinary);
//   - the filer image's entry point is in its context and valid sh;
//   - deploy/images/build.sh (what `make images` runs) with controlled
//     builders on PATH: without one, and with a docker client whose engine
//     does not answer, it says it skips and exits 0; with a working one it
//     builds every final stage of the Dockerfile and the filer, each tagged
//     with VERSION, never latest.
func TestImageBuild(t *testing.T) {
	root, err := proc.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	goDF, err := parseDockerfile(filepath.Join(root, "deploy", "images", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	filerDF, err := parseDockerfile(filepath.Join(root, "deploy", "images", "filer", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var finals []string
	for _, st := range goDF.Stages[1:] {
		finals = append(finals, st.Name)
	}

	t.Run("the Dockerfiles pass the lint", func(t *testing.T) {
		for _, df := range []*dockerfile{goDF, filerDF} {
			for _, p := range lintDockerfile(df) {
				t.Error(p)
			}
		}
	})
	t.Run("the lint catches a broken Dockerfile", func(t *testing.T) {
		df, err := parseDockerfileText("broken", "ARG BASE=busybox:latest\nARG VERSION=1\nfrom golang AS Build\nARG GH_TOKEN=x\nENV A 1\n"+
			"FROM ${BASE} as final\nCOPY --from=nothere /x /x\nWORKDIR rel\nLABEL v=${UNSET}\nRUN echo ${VERSION}\nENTRYPOINT /x\nFROM $OTHER\n")
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(lintDockerfile(df), "\n")
		for _, want := range []string{"from is not upper case", `"Build" is not lower case`, `"golang": no tag`, "GH_TOKEN: secrets",
			`"A 1": write key=value`, "write AS in upper case", `"busybox:latest": tagged latest`, "--from=nothere", `"rel" is not absolute`,
			"$UNSET, not declared", "global ARG VERSION without declaring it", "use the exec form", "ARG OTHER, not declared before the first FROM"} {
			if !strings.Contains(got, want) {
				t.Errorf("the lint misses %q; it said:\n%s", want, got)
			}
		}
	})

	t.Run("the build stage builds every binary as the Dockerfile does", func(t *testing.T) {
		build := goDF.Stages[0]
		checkGoVersion(t, root, goDF.globalArgs()[strings.Trim(strings.TrimPrefix(build.Image, "$"), "{}")])
		start := time.Now()
		fsRoot := runStage(t, root, &build, map[string]string{"VERSION": imageVersion, "REGISTRY": imageRegistry})
		t.Logf("build stage run in %v", time.Since(start).Round(time.Second))

		base := goDF.globalArgs()["BASE_IMAGE"]
		if !strings.Contains(base, "distroless/static") || !strings.HasSuffix(base, ":nonroot") {
			t.Errorf("BASE_IMAGE %q: want the distroless static nonroot base", base)
		}
		cmds, err := os.ReadDir(filepath.Join(root, "cmd"))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cmds {
			if c.IsDir() && !slices.Contains(finals, c.Name()) {
				t.Errorf("cmd/%s has no image (no final stage of that name)", c.Name())
			}
		}
		for _, st := range goDF.Stages[1:] {
			dest := checkFinalStage(t, &st, fsRoot)
			if st.Name == "flotilla-init" && dest != runtime.DefaultInitBinary {
				t.Errorf("flotilla-init is copied to %s; job pods run %s", dest, runtime.DefaultInitBinary)
			}
		}
		out, _ := exec.Command(filepath.Join(fsRoot, "out", "flotilla-agent"), "-h").CombinedOutput()
		for _, img := range []string{"flotilla-init", "flotilla-filer"} {
			if ref := imageRegistry + "/" + img + ":" + imageVersion; !strings.Contains(string(out), ref) {
				t.Errorf("the agent built with VERSION and REGISTRY does not default to %s:\n%s", ref, out)
			}
		}
	})

	t.Run("the filer image's entry point is in its context and valid sh", func(t *testing.T) {
		ctxDir := filepath.Dir(filerDF.Path)
		var copied []string
		for _, in := range filerDF.Stages[0].Instructions {
			if in.Keyword == "COPY" {
				f := strings.Fields(in.Args)
				copied = append(copied, f[len(f)-1])
				if out, err := exec.Command("sh", "-n", filepath.Join(ctxDir, f[0])).CombinedOutput(); err != nil {
					t.Errorf("sh -n %s: %v\n%s", f[0], err, out)
				}
			}
			if in.Keyword == "ENTRYPOINT" {
				if args, _ := in.jsonArgs(); len(args) == 0 || !slices.Contains(copied, args[0]) {
					t.Errorf("ENTRYPOINT %s is not a file the image copies (%v)", in.Args, copied)
				}
			}
		}
	})

	t.Run("make images", func(t *testing.T) { checkBuildScript(t, root, finals) })
}

// checkGoVersion: the Go of the build stage's base image (golang:1.26-...),
// of go.mod and of the toolchain running the test are one minor version.
func checkGoVersion(t *testing.T, root, goImage string) {
	t.Helper()
	minor := regexp.MustCompile(`^1\.\d+`)
	_, tag, _ := strings.Cut(goImage, ":")
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	modGo := regexp.MustCompile(`(?m)^go (\S+)`).FindSubmatch(gomod)
	if modGo == nil {
		t.Fatal("go.mod names no go version")
	}
	image, mod, host := minor.FindString(tag), minor.FindString(string(modGo[1])), minor.FindString(strings.TrimPrefix(goruntime.Version(), "go"))
	if image == "" || image != mod || image != host {
		t.Fatalf("Go %q of the build image (%s), %q of go.mod and %q of this toolchain differ", image, goImage, mod, host)
	}
}

// runStage carries out a build stage's instructions: COPY from the build
// context (root less .dockerignore), WORKDIR, ENV, ARG (args override the
// defaults) and RUN (with sh, in the work directory, the stage's ENV and
// ARGs in the environment). The stage's file system is a scratch tree:
// absolute paths under the directories the stage names (WORKDIR, the
// sources later stages copy from it) are moved under it. It returns the
// tree's root.
func runStage(t *testing.T, root string, st *stage, args map[string]string) string {
	t.Helper()
	fsRoot := t.TempDir()
	files := buildContext(t, root)
	env := map[string]string{}
	workdir := "/"
	tops := map[string]bool{}
	for _, in := range st.Instructions {
		if in.Keyword == "WORKDIR" {
			tops[strings.Split(in.Args, "/")[1]] = true
		}
	}
	// Later stages copy /out/...: that directory is the stage's too.
	tops["out"] = true
	var topList []string
	for d := range tops {
		topList = append(topList, regexp.QuoteMeta(d))
	}
	absPath := regexp.MustCompile(`(^|[\s="':])/(` + strings.Join(topList, "|") + `)(/|\s|$)`)
	local := func(p string) string { return absPath.ReplaceAllString(p, "${1}"+fsRoot+"/${2}${3}") }

	for _, in := range st.Instructions {
		switch in.Keyword {
		case "WORKDIR":
			workdir = in.Args
			if err := os.MkdirAll(filepath.Join(fsRoot, workdir), 0o755); err != nil {
				t.Fatal(err)
			}
		case "ENV", "ARG":
			kv, _ := in.keyValues()
			for _, p := range kv {
				env[p[0]] = p[1]
				if v, ok := args[p[0]]; ok && in.Keyword == "ARG" {
					env[p[0]] = v
				}
			}
		case "COPY":
			f := strings.Fields(in.Args)
			dest := filepath.Join(fsRoot, workdir, f[len(f)-1])
			for _, src := range f[:len(f)-1] {
				copyContext(t, root, files, filepath.Clean(src), dest)
			}
		case "RUN":
			for _, fl := range in.Flags {
				if !strings.HasPrefix(fl, "--mount=type=cache,") {
					t.Fatalf("line %d: RUN flag %s: only cache mounts (which change nothing built) can be reproduced here", in.Line, fl)
				}
			}
			// A deadline short of the test's, and the whole process group
			// killed on it: nothing the RUN started outlives the test.
			ctx, cancel := context.WithCancel(context.Background())
			if d, ok := t.Deadline(); ok {
				ctx, cancel = context.WithDeadline(context.Background(), d.Add(-30*time.Second))
			}
			defer cancel()
			cmd := exec.CommandContext(ctx, "sh", "-c", local(in.Args))
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
			cmd.Dir = filepath.Join(fsRoot, workdir)
			cmd.Env = os.Environ()
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("line %d: RUN %s: %v\n%s", in.Line, in.Args, err, out)
			}
		default:
			t.Fatalf("line %d: %s in the build stage: not reproduced by this test", in.Line, in.Keyword)
		}
	}
	return fsRoot
}

// buildContext lists the files of the build context: every file under root
// that .dockerignore does not exclude (slash-separated, relative).
func buildContext(t *testing.T, root string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var ignore []*regexp.Regexp
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") {
			t.Fatalf(".dockerignore: exception %q: not handled by this test", line)
		}
		ignore = append(ignore, ignorePattern(filepath.ToSlash(filepath.Clean(line))))
	}
	var files []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		for _, re := range ignore {
			if re.MatchString(rel) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		if d.Type().IsRegular() {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// ignorePattern turns a .dockerignore pattern into a regular expression:
// ** any number of directories, * and ? within one path element.
func ignorePattern(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		switch {
		case strings.HasPrefix(p[i:], "**/"):
			b.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(p[i:], "**"):
			b.WriteString(".*")
			i++
		case p[i] == '*':
			b.WriteString("[^/]*")
		case p[i] == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// copyContext copies src of the context (a file, or "." for all of it) to
// dest, a directory when it ends in '/' or src is ".".
func copyContext(t *testing.T, root string, files []string, src, dest string) {
	t.Helper()
	for _, f := range files {
		var to string
		switch {
		case src == ".":
			to = filepath.Join(dest, f)
		case f == src:
			to = filepath.Join(dest, filepath.Base(f))
		default:
			continue
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		in, err := os.Open(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(to)
		if err == nil {
			_, err = io.Copy(out, in)
			err = errors.Join(err, out.Close())
		}
		in.Close()
		if err != nil {
			t.Fatal(err)
		}
		if src != "." {
			return
		}
	}
	if src != "." {
		t.Fatalf("COPY %s: not in the build context", src)
	}
}

// checkFinalStage checks a Go image's stage and the binary it copies (from
// the build stage's tree under fsRoot); it returns where the image holds it.
func checkFinalStage(t *testing.T, st *stage, fsRoot string) string {
	t.Helper()
	if st.Image != "${BASE_IMAGE}" {
		t.Errorf("%s: FROM %s; want ${BASE_IMAGE}", st.Name, st.Image)
	}
	var src, dest, user string
	var entry []string
	for _, in := range st.Instructions {
		switch in.Keyword {
		case "COPY":
			f := strings.Fields(in.Args)
			if from, _ := in.flag("from"); from != "build" || len(f) != 2 || src != "" {
				t.Errorf("%s: line %d: COPY %v %s: want one binary from the build stage", st.Name, in.Line, in.Flags, in.Args)
				continue
			}
			src, dest = f[0], f[1]
		case "USER":
			user = in.Args
		case "ENTRYPOINT":
			entry, _ = in.jsonArgs()
		case "RUN":
			t.Errorf("%s: line %d: RUN in a distroless stage (it has no shell)", st.Name, in.Line)
		}
	}
	uid, gid, _ := strings.Cut(user, ":")
	if u, err := strconv.Atoi(uid); err != nil || u == 0 {
		t.Errorf("%s: USER %q: want a numeric non-root uid", st.Name, user)
	}
	if g, err := strconv.Atoi(gid); err != nil || g == 0 {
		t.Errorf("%s: USER %q: want a numeric non-root gid", st.Name, user)
	}
	if len(entry) != 1 || entry[0] != dest || filepath.Base(dest) != st.Name {
		t.Errorf("%s: ENTRYPOINT %q, binary copied to %q: want the stage's binary", st.Name, entry, dest)
	}
	bin := filepath.Join(fsRoot, src)
	f, err := elf.Open(bin)
	if err != nil {
		t.Errorf("%s: the build stage made no binary %s: %v", st.Name, src, err)
		return dest
	}
	defer f.Close()
	libs, _ := f.ImportedLibraries()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			libs = append(libs, "an interpreter")
		}
	}
	if len(libs) > 0 {
		t.Errorf("%s: not static: needs %v", st.Name, libs)
	}
	out, err := exec.Command(bin, "-version").Output()
	if want := fmt.Sprintf("%s %s (", st.Name, imageVersion); err != nil || !strings.HasPrefix(string(out), want) {
		t.Errorf("%s -version: %q, %v; want %q...", st.Name, out, err, want)
	}
	return dest
}

// checkBuildScript runs deploy/images/build.sh with controlled builders on
// PATH; finals are the Go images' stage names.
func checkBuildScript(t *testing.T, root string, finals []string) {
	script := filepath.Join(root, "deploy", "images", "build.sh")
	// pathWith makes a PATH holding only what the script needs besides the
	// builders given (name → shell script body).
	pathWith := func(t *testing.T, tools map[string]string) string {
		dir := t.TempDir()
		for _, name := range []string{"bash", "dirname"} {
			real, err := exec.LookPath(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(real, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		for name, body := range tools {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/bash\n"+body), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	run := func(t *testing.T, path string) (string, error) {
		cmd := exec.Command(script)
		cmd.Env = []string{"PATH=" + path, "VERSION=" + imageVersion, "REGISTRY=" + imageRegistry}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	t.Run("no builder: skipped with a message", func(t *testing.T) {
		out, err := run(t, pathWith(t, nil))
		if err != nil || !strings.Contains(out, "images: skipped: no image builder") {
			t.Fatalf("build.sh without a builder: %v\n%s", err, out)
		}
	})
	t.Run("docker client without an engine: skipped with a message", func(t *testing.T) {
		out, err := run(t, pathWith(t, map[string]string{"docker": `[ "$1" = info ] && exit 1; echo "unexpected docker $*"; exit 3`}))
		if err != nil || !strings.Contains(out, "no Docker engine answers") {
			t.Fatalf("build.sh with a docker client and no engine: %v\n%s", err, out)
		}
	})
	t.Run("working builder: every image, tagged with the version", func(t *testing.T) {
		log := filepath.Join(t.TempDir(), "builds")
		out, err := run(t, pathWith(t, map[string]string{"podman": `echo "$*" >> ` + log}))
		if err != nil {
			t.Fatalf("build.sh with podman: %v\n%s", err, out)
		}
		b, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		builds := strings.Split(strings.TrimSpace(string(b)), "\n")
		want := map[string]string{"flotilla-filer": "deploy/images/filer/Dockerfile"}
		for _, name := range finals {
			want[name] = "--target " + name
		}
		if len(builds) != len(want) {
			t.Fatalf("%d builds, want %d:\n%s", len(builds), len(want), b)
		}
		for name, how := range want {
			tag := "-t " + imageRegistry + "/" + name + ":" + imageVersion
			found := false
			for _, line := range builds {
				if strings.Contains(line, tag+" ") {
					found = strings.Contains(line, how) && strings.Contains(line, "VERSION="+imageVersion)
				}
			}
			if !found {
				t.Errorf("no build of %s (%s, tagged %s):\n%s", name, how, tag, b)
			}
		}
		if strings.Contains(string(b), ":latest") {
			t.Errorf("an image is tagged latest:\n%s", b)
		}
	})
}
