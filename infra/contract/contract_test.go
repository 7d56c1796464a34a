package contract_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pregate/pregate/docs"
	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/internal/localauth"
)

// Examples and Seed fix the run that `make test` makes: Schemathesis
// generates up to Examples test cases per operation in each phase
// (examples, coverage, fuzzing, stateful). MinCases is the floor the run
// must reach (DEVELOPMENT.md gives the number it makes): a run that tried
// much less than it used to, an operation dropped or a phase cut short,
// proves less and fails.
const (
	Examples = 20
	Seed     = 20261203
	MinCases = 1500
)

// TestAPIMatchesItsDocument runs Schemathesis with every check against the
// local system (the local gateway and the real handlers on moto), holding the
// server to docs/openapi.yaml and the document to the server: any 5xx, any
// response or header the document does not declare, any request the document
// calls valid that is refused (or invalid that is accepted), any wrong answer
// to an undeclared method fails the test. The rules that depend on stored
// state (a verification code's request must await one, a cursor must name a
// stored request, ...) are listed, with the status the document gives them,
// in infra/schemathesis.toml, each held to its exact case by the check in
// infra/schemathesis_hooks.py. The local sign-in endpoints (the stand-ins
// for Cognito: token, sign-in page, sign-out) are fuzzed too.
func TestAPIMatchesItsDocument(t *testing.T) {
	if testing.Short() {
		t.Skip("about a minute; not with -short")
	}
	root, err := local.Root()
	if err != nil {
		t.Fatal(err)
	}
	st := schemathesis(t, root)

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	sys, err := local.Start(ctx, local.Options{Root: root, Addr: "127.0.0.1:0", Endpoint: os.Getenv("AWS_ENDPOINT_URL")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Stop)

	doc, err := docs.Parse(docs.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	scopes := make([]string, 0, len(doc.Scopes))
	for s := range doc.Scopes {
		scopes = append(scopes, s)
	}
	sort.Strings(scopes)
	token, err := sys.Auth.Mint("schemathesis", scopes, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	args := []string{
		"--config-file", filepath.Join(root, "infra", "schemathesis.toml"),
		"run", filepath.Join(root, "docs", "openapi.yaml"),
		"--url", sys.URL + "/api/v1",
		"--checks", "all",
		"--header", "Authorization: Bearer " + token,
		"--max-examples", strconv.Itoa(Examples),
		"--seed", strconv.Itoa(Seed),
		"--generation-database", "none",
		"--request-timeout", "30",
		"--no-color",
	}
	cmd := exec.CommandContext(ctx, st, args...)
	cmd.Dir = t.TempDir() // Schemathesis keeps its own state in the working directory
	cmd.Env = append(os.Environ(), "SCHEMATHESIS_TELEMETRY=false", "SCHEMATHESIS_HOOKS="+filepath.Join(root, "infra", "schemathesis_hooks.py"),
		"PREGATE_CONSOLE_URL="+sys.URL+localauth.ConsoleRedirectPath) // the sign-in pages' redirect (infra/schemathesis.toml)
	out, err := cmd.CombinedOutput()
	summary := string(out)
	if i := strings.LastIndex(summary, "Test cases:"); i >= 0 {
		t.Logf("schemathesis: %s", strings.Join(strings.Fields(summary[i:]), " "))
	}
	if err != nil {
		t.Fatalf("schemathesis %s: %v\n%s", strings.Join(redact(args, token), " "), err, out)
	}
	if !strings.Contains(summary, "passed") || strings.Contains(summary, "failure") {
		t.Fatalf("schemathesis exited 0 without a clean summary:\n%s", out)
	}
	generated, passed := casesRun(summary)
	if generated < MinCases || passed != generated {
		t.Fatalf("schemathesis ran %d test cases, %d passed: want at least %d, all passed\n%s", generated, passed, MinCases, out)
	}
}

// casesRun reads "Test cases: N generated, N passed" from Schemathesis' summary.
func casesRun(summary string) (generated, passed int) {
	m := regexp.MustCompile(`Test cases:\s+(\d+) generated, (\d+) passed`).FindStringSubmatch(summary)
	if m == nil {
		return 0, 0
	}
	generated, _ = strconv.Atoi(m[1])
	passed, _ = strconv.Atoi(m[2])
	return generated, passed
}

// schemathesis is the pinned binary in the tooling virtualenv, next to moto's
// python. Outside `make test` (which installs it) a missing one skips.
func schemathesis(t *testing.T, root string) string {
	python := os.Getenv("MOTO_PYTHON")
	if python == "" {
		python = filepath.Join(root, ".venv", "bin", "python")
	}
	for _, bin := range []string{filepath.Join(filepath.Dir(python), "schemathesis"), filepath.Join(root, ".venv", "bin", "schemathesis")} {
		if _, err := os.Stat(bin); err == nil {
			return bin
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	if os.Getenv("PREGATE_MAKE_TEST") != "" {
		t.Fatal("schemathesis is not in .venv: `make venv` installs infra/requirements.txt")
	}
	t.Skip("schemathesis is not installed (`make venv`); make test runs this test")
	return ""
}

func redact(args []string, token string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, token, "<token>")
	}
	return out
}
