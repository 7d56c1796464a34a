package docs_test

import (
	"io"
	"log/slog"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/pregate/pregate/docs"
	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/httpapi"
)

// localOnly are the local gateway's own routes: documented, never deployed.
var localOnly = map[string]bool{
	"POST /api/v1/oauth/token":        true,
	"GET /api/v1/oauth/authorize":     true,
	"POST /api/v1/oauth/authorize":    true,
	"GET /api/v1/oauth/logout":        true,
	"GET /api/v1/openapi.json":        true,
	"GET /api/v1/docs":                true,
	"GET /api/v1/local/outbox":        true,
	"GET /api/v1/local/notifications": true,
}

func TestDocumentIsValidOpenAPI31(t *testing.T) {
	doc, err := libopenapi.NewDocument(docs.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.GetVersion(); v != "3.1.0" {
		t.Fatalf("openapi version %q, want 3.1.0", v)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		for _, e := range errs {
			t.Errorf("%s: %s", e.Message, e.Reason)
		}
	}
}

func template(t *testing.T) *stack.Template {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := stack.FindRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := stack.LoadTemplate(root + "/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// TestDocumentMatchesTemplate holds the document against template.yaml: the
// same routes, and per route the same authorisation: a route behind the JWT
// authorizer needs the admin token with exactly the scope its handler checks,
// a reply route the reply token, any other route nothing.
func TestDocumentMatchesTemplate(t *testing.T) {
	tmpl := template(t)
	routes, err := tmpl.Routes()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := docs.Parse(docs.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	// Handlers are only listed, never called: their use cases can be nil.
	api := httpapi.New(slog.New(slog.NewTextHandler(io.Discard, nil)), "",
		httpapi.HealthRoutes(), httpapi.PublicRequestRoutes(nil), httpapi.ReplyRoutes(nil, nil),
		httpapi.ConfigRoutes(nil), httpapi.AdminRequestRoutes(nil), httpapi.PolicyRoutes(nil), httpapi.AccessLogRoutes(nil),
		httpapi.WebhookActivityRoutes(nil), httpapi.WebhookTestRoutes(nil))
	api.AllowCORS(nil, httpapi.SubmitRouteKey, httpapi.VerifyRouteKey)
	replies := map[string]bool{}
	for _, r := range httpapi.ReplyRoutes(nil, nil) {
		replies[r.Key] = true
	}

	documented := map[string]docs.Operation{}
	for _, op := range doc.Operations {
		documented[op.Key()] = op
		switch {
		case localOnly[op.Key()] != op.LocalOnly:
			t.Errorf("%s: x-local-only is %v, want %v", op.Key(), op.LocalOnly, localOnly[op.Key()])
		case op.LocalOnly && len(op.Security) > 0:
			t.Errorf("%s: local-only route with security %v", op.Key(), op.Security)
		}
	}
	for key := range localOnly {
		if _, ok := documented[key]; !ok {
			t.Errorf("local route %s is not documented", key)
		}
	}
	declared := map[string]bool{}
	for _, r := range routes {
		// The admin console's page and assets are no part of the API.
		if !strings.HasPrefix(r.Path, "/api/") {
			continue
		}
		declared[r.Key()] = true
		op, ok := documented[r.Key()]
		if !ok {
			t.Errorf("template.yaml route %s is not in docs/openapi.yaml", r.Key())
			continue
		}
		var want []map[string][]string
		switch {
		case r.Authorized:
			want = []map[string][]string{{"adminToken": {api.Scope(r.Key())}}}
		case replies[r.Key()]:
			want = []map[string][]string{{"replyToken": {}}}
		}
		if !sameSecurity(op.Security, want) {
			t.Errorf("%s: security %v, want %v", r.Key(), op.Security, want)
		}
		if len(want) > 0 && !(hasCode(op, "401") && hasCode(op, "403")) {
			t.Errorf("%s: a route with security must declare 401 and 403", r.Key())
		}
		// Any deployed route can meet a body over 1 MiB or not base64 (httpapi.API.serve) and the stage's throttling.
		for _, code := range []string{"400", "413", "429"} {
			if !hasCode(op, code) {
				t.Errorf("%s: does not declare %s", r.Key(), code)
			}
		}
	}
	for key, op := range documented {
		if !declared[key] && !op.LocalOnly {
			t.Errorf("docs/openapi.yaml documents %s, which template.yaml does not route", key)
		}
		if declared[key] && localOnly[key] {
			t.Errorf("%s is listed as local-only but template.yaml routes it", key)
		}
	}
}

// TestDocumentScopesAreTheResourceServers: the admin token's scopes are the
// ones the template's Cognito resource server defines (the eleven admin scopes).
func TestDocumentScopesAreTheResourceServers(t *testing.T) {
	tmpl := template(t)
	var want []string
	for _, r := range tmpl.Resources {
		if r.Type != "AWS::Cognito::UserPoolResourceServer" {
			continue
		}
		scopes, _ := r.Properties["Scopes"].([]any)
		for _, s := range scopes {
			m, _ := s.(map[string]any)
			name, _ := m["ScopeName"].(string)
			want = append(want, name)
		}
	}
	doc, err := docs.Parse(docs.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for s := range doc.Scopes {
		got = append(got, s)
	}
	sort.Strings(got)
	sort.Strings(want)
	if len(want) != 11 || !reflect.DeepEqual(got, want) {
		t.Fatalf("document scopes %v, template's resource server %v", got, want)
	}
}

func sameSecurity(got, want []map[string][]string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if len(got[i]) != len(want[i]) {
			return false
		}
		for scheme, scopes := range want[i] {
			g, ok := got[i][scheme]
			if !ok || len(g) != len(scopes) || (len(g) > 0 && !reflect.DeepEqual(g, scopes)) {
				return false
			}
		}
	}
	return true
}

func hasCode(op docs.Operation, code string) bool {
	for _, r := range op.Responses {
		if r.Code == code {
			return true
		}
	}
	return false
}
