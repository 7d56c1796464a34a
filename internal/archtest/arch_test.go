// Package archtest holds the house rules of STYLE.md as tests: the domain
// imports no AWS package, only functions/<name>/main.go starts Lambda, and
// every function builds to a static linux/arm64 bootstrap.
package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pregate/pregate/infra/stack"
)

func goFiles(t *testing.T) (root string, files []string) {
	t.Helper()
	wd, _ := os.Getwd()
	root, err := stack.FindRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && p != root || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return root, files
}

func TestDomainImportsNoAWSPackage(t *testing.T) {
	root, files := goFiles(t)
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		if !strings.HasPrefix(rel, "internal/gate/") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "github.com/aws/") {
				t.Errorf("%s imports %s: the domain must not depend on AWS", rel, path)
			}
		}
	}
}

// Only a function's main may start Lambda: everything else is a library the
// local gateway and the tests call in process. Checked on the imports, so a
// call spelled differently (an alias, lambda.StartWithOptions) is caught too.
func TestOnlyFunctionMainsStartLambda(t *testing.T) {
	const lambdaPkg = "github.com/aws/aws-lambda-go/lambda"
	root, files := goFiles(t)
	mains := 0
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			if path, _ := strconv.Unquote(imp.Path.Value); path != lambdaPkg {
				continue
			}
			if ok, _ := filepath.Match("functions/*/main.go", filepath.ToSlash(rel)); ok {
				mains++
			} else {
				t.Errorf("%s imports %s; only functions/<name>/main.go may", rel, lambdaPkg)
			}
		}
	}
	if mains == 0 {
		t.Fatalf("no functions/<name>/main.go imports %s: is the walk broken?", lambdaPkg)
	}
}

// The validator SDK is imported by customers, who cannot import our internal
// packages nor want our dependencies: it uses the standard library only. The
// example validator is written as a customer would: nothing internal.
func TestValidatorSDKImportsOnlyTheStandardLibrary(t *testing.T) {
	root, files := goFiles(t)
	seen := 0
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		sdk, example := strings.HasPrefix(rel, "validator/"), strings.HasPrefix(rel, "examples/")
		if !sdk && !example || strings.HasSuffix(rel, "_test.go") {
			continue
		}
		seen++
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			stdlib := !strings.Contains(strings.Split(path, "/")[0], ".")
			switch {
			case sdk && !stdlib:
				t.Errorf("%s imports %s: the validator SDK may import only the standard library", rel, path)
			case example && strings.Contains(path, "/internal/"):
				t.Errorf("%s imports %s: examples use public packages only", rel, path)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no file of validator/ or examples/ found")
	}
}
