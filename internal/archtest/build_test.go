package archtest

import (
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pregate/pregate/infra/stack"
)

// sam build runs `make build-<LogicalId> ARTIFACTS_DIR=...` for every function
// with BuildMethod makefile; Lambda's provided.al2023 arm64 runtime then execs
// ARTIFACTS_DIR/bootstrap. Each must be a static linux/arm64 binary built with
// the flags of template.yaml's contract (no RPC shim, reproducible paths,
// stripped), and the Makefile must know exactly the template's functions.
func TestEveryFunctionBuildsForArm64(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	wd, _ := os.Getwd()
	root, err := stack.FindRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := stack.LoadTemplate(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var functions []string
	for id, r := range tmpl.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		if r.Metadata["BuildMethod"] != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod is %v, want makefile", id, r.Metadata["BuildMethod"])
			continue
		}
		functions = append(functions, id)
	}
	slices.Sort(functions)
	if len(functions) == 0 {
		t.Fatal("template.yaml has no function built by the Makefile")
	}
	if listed := makefileFunctions(t, root); !slices.Equal(listed, functions) {
		t.Errorf("Makefile FUNCTIONS %v, template functions %v: make build and sam build would differ", listed, functions)
	}

	for _, id := range functions {
		dir := t.TempDir()
		cmd := exec.Command("make", "-s", "build-"+id, "ARTIFACTS_DIR="+dir)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("make build-%s: %v\n%s", id, err, out)
			continue
		}
		checkBootstrap(t, id, filepath.Join(dir, "bootstrap"))
	}
}

func checkBootstrap(t *testing.T, id, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Errorf("%s: %v", id, err)
		return
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 {
		t.Errorf("%s: bootstrap is %v %v, want EM_AARCH64 ELFCLASS64", id, f.Machine, f.Class)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s: bootstrap asks for a dynamic loader (PT_INTERP): not a static binary", id)
		}
	}
	// -trimpath keeps -ldflags out of the build info, so look for its effect.
	if f.Section(".symtab") != nil {
		t.Errorf("%s: bootstrap has a .symtab: not stripped (-ldflags -s)", id)
	}
	if f.Section(".debug_info") != nil {
		t.Errorf("%s: bootstrap has DWARF (.debug_info): built without -ldflags -w", id)
	}

	info, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Errorf("%s: %v", id, err)
		return
	}
	want := map[string]string{
		"-tags":       "lambda.norpc",
		"-trimpath":   "true",
		"CGO_ENABLED": "0",
		"GOARCH":      "arm64",
		"GOOS":        "linux",
	}
	got := map[string]string{}
	for _, s := range info.Settings {
		got[s.Key] = s.Value
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: build setting %s=%q, want %q", id, k, got[k], v)
		}
	}
}

// makefileFunctions reads the LogicalIds of the Makefile's FUNCTIONS list
// (LogicalId:directory pairs), sorted.
func makefileFunctions(t *testing.T, root string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(raw)) {
		name, value, ok := strings.Cut(line, ":=")
		if !ok || strings.TrimSpace(name) != "FUNCTIONS" {
			continue
		}
		var ids []string
		for _, pair := range strings.Fields(value) {
			id, _, _ := strings.Cut(pair, ":")
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return ids
	}
	t.Fatal("no FUNCTIONS := line in the Makefile")
	return nil
}
