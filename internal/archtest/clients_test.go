package archtest

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/pregate/pregate/infra/stack"
)

// functionClients are the AWS service clients each function calls. A binary
// links (and initializes at every cold start) every service package it
// imports, so each function's wiring (internal/app/<function>) builds only
// these; the SDK's config loader, with its SSO and STS clients, is in none.
var functionClients = map[string][]string{
	"admin-api":  {"dynamodb", "kms", "secretsmanager", "sqs"},
	"dispatcher": {"dynamodb", "kms", "secretsmanager", "sns", "sqs"},
	"public-api": {"dynamodb", "secretsmanager", "sesv2"},
	"reconciler": {"cloudwatch", "dynamodb", "sns", "sqs"},
	"stream":     {"dynamodb", "sns", "sqs"},
}

func TestEachFunctionLinksOnlyItsClients(t *testing.T) {
	wd, _ := os.Getwd()
	root, err := stack.FindRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"list", "-tags", "lambda.norpc", "-f", `{{.ImportPath}}: {{join .Deps " "}}`}
	for fn := range functionClients {
		args = append(args, "./functions/"+fn)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const sdk = "github.com/aws/aws-sdk-go-v2/"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, ": ")
		fn := pkg[strings.LastIndex(pkg, "/")+1:]
		var services []string
		for _, d := range strings.Fields(deps) {
			if svc, ok := strings.CutPrefix(d, sdk+"service/"); ok && !strings.Contains(svc, "/") {
				services = append(services, svc)
			}
			if d == sdk+"config" {
				t.Errorf("%s links the SDK's config loader (%s)", fn, d)
			}
		}
		slices.Sort(services)
		if want := functionClients[fn]; !slices.Equal(services, want) {
			t.Errorf("%s links the clients %v, want %v", fn, services, want)
		}
	}
}
