package install

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"

	"github.com/flotilla-hpc/flotilla/test/proc"
)

// terraformModules are the modules under terraform/; each has examples/.
var terraformModules = []string{"eks", "gke", "flotilla"}

// TestTerraformModules reads every module under terraform/ with
// terraform-config-inspect and HCL: every variable has a type, a
// description and a validation block; every output a description; every
// required provider a version constraint, and the module a required
// Terraform version. Every example under examples/ calls its module with
// every required variable and only with variables the module has.
func TestTerraformModules(t *testing.T) {
	root, err := proc.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range terraformModules {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, "terraform", name)
			mod := loadModule(t, dir)
			if len(mod.RequiredCore) == 0 {
				t.Errorf("%s: no required_version", name)
			}
			if len(mod.RequiredProviders) == 0 {
				t.Errorf("%s: no required_providers", name)
			}
			for pname, p := range mod.RequiredProviders {
				if pname == "terraform" {
					continue // built into Terraform (terraform_data): no version of its own
				}
				if len(p.VersionConstraints) == 0 || p.Source == "" {
					t.Errorf("%s: provider %s has no source or version constraint", name, pname)
				}
			}
			if len(mod.Variables) == 0 || len(mod.Outputs) == 0 {
				t.Errorf("%s: %d variables, %d outputs", name, len(mod.Variables), len(mod.Outputs))
			}
			validated := validatedVariables(t, dir)
			for vname, v := range mod.Variables {
				if v.Type == "" {
					t.Errorf("%s: variable %s has no type (%s:%d)", name, vname, v.Pos.Filename, v.Pos.Line)
				}
				if strings.TrimSpace(v.Description) == "" {
					t.Errorf("%s: variable %s has no description (%s:%d)", name, vname, v.Pos.Filename, v.Pos.Line)
				}
				if !validated[vname] {
					t.Errorf("%s: variable %s has no validation block (%s:%d)", name, vname, v.Pos.Filename, v.Pos.Line)
				}
			}
			for oname, o := range mod.Outputs {
				if strings.TrimSpace(o.Description) == "" {
					t.Errorf("%s: output %s has no description (%s:%d)", name, oname, o.Pos.Filename, o.Pos.Line)
				}
			}

			examples, err := filepath.Glob(filepath.Join(dir, "examples", "*"))
			if err != nil || len(examples) == 0 {
				t.Fatalf("%s: no examples (%v)", name, err)
			}
			for _, ex := range examples {
				calls := moduleCalls(t, ex, dir)
				if len(calls) == 0 {
					t.Errorf("%s: example %s does not call the module", name, filepath.Base(ex))
				}
				exMod := loadModule(t, ex)
				for pname, p := range exMod.RequiredProviders {
					if len(p.VersionConstraints) == 0 {
						t.Errorf("%s: example %s: provider %s has no version constraint", name, filepath.Base(ex), pname)
					}
				}
				for call, args := range calls {
					for vname, v := range mod.Variables {
						if v.Required && !slices.Contains(args, vname) {
							t.Errorf("%s: example %s, module %q: required variable %s not given", name, filepath.Base(ex), call, vname)
						}
					}
					for _, a := range args {
						if _, ok := mod.Variables[a]; !ok && !metaArgument(a) {
							t.Errorf("%s: example %s, module %q: %s is not a variable of the module", name, filepath.Base(ex), call, a)
						}
					}
				}
			}
		})
	}
	t.Run("the modules are the ones listed", func(t *testing.T) {
		entries, err := os.ReadDir(filepath.Join(root, "terraform"))
		if err != nil {
			t.Fatal(err)
		}
		var dirs []string
		for _, e := range entries {
			if e.IsDir() {
				dirs = append(dirs, e.Name())
			}
		}
		want := slices.Clone(terraformModules)
		sort.Strings(want)
		if !slices.Equal(dirs, want) {
			t.Errorf("terraform/ holds %v; the test checks %v", dirs, want)
		}
	})
}

func loadModule(t *testing.T, dir string) *tfconfig.Module {
	t.Helper()
	mod, diags := tfconfig.LoadModule(dir)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", dir, diags.Err())
	}
	return mod
}

// parseDir parses every .tf file of dir.
func parseDir(t *testing.T, dir string) []*hclsyntax.Body {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	p := hclparse.NewParser()
	var bodies []*hclsyntax.Body
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", f, diags)
		}
		bodies = append(bodies, file.Body.(*hclsyntax.Body))
	}
	return bodies
}

// validatedVariables names the variables of dir with a validation block.
func validatedVariables(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, body := range parseDir(t, dir) {
		for _, b := range body.Blocks {
			if b.Type != "variable" || len(b.Labels) != 1 {
				continue
			}
			for _, inner := range b.Body.Blocks {
				if inner.Type == "validation" {
					out[b.Labels[0]] = true
				}
			}
		}
	}
	return out
}

// moduleCalls returns, for every module block of dir whose source is the
// module in moduleDir, the arguments it passes.
func moduleCalls(t *testing.T, dir, moduleDir string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, body := range parseDir(t, dir) {
		for _, b := range body.Blocks {
			if b.Type != "module" || len(b.Labels) != 1 {
				continue
			}
			src, ok := b.Body.Attributes["source"]
			if !ok {
				continue
			}
			v, diags := src.Expr.Value(&hcl.EvalContext{})
			if diags.HasErrors() {
				t.Fatalf("%s: module %s: source: %v", dir, b.Labels[0], diags)
			}
			if filepath.Clean(filepath.Join(dir, v.AsString())) != filepath.Clean(moduleDir) {
				continue
			}
			var args []string
			for name := range b.Body.Attributes {
				args = append(args, name)
			}
			out[b.Labels[0]] = args
		}
	}
	return out
}

// metaArgument reports whether name is one of Terraform's module meta-arguments.
func metaArgument(name string) bool {
	switch name {
	case "source", "version", "providers", "count", "for_each", "depends_on":
		return true
	}
	return false
}
