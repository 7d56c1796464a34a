package apidocs_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/pregate/pregate/docs"
	"github.com/pregate/pregate/infra/apidocs"
)

func TestServesTheDocumentAndItsReference(t *testing.T) {
	mux := http.NewServeMux()
	if err := apidocs.Register(func(method, path string, h http.Handler) { mux.Handle(method+" "+path, h) }); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path, wantType string) string {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), wantType) {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		return string(raw)
	}
	doc, err := docs.Parse(docs.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}

	var served struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal([]byte(get(apidocs.JSONPath, "application/json")), &served); err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, op := range doc.Operations {
		paths[strings.TrimPrefix(op.Path, "/api/v1")] = true
	}
	for p := range paths {
		if served.Paths[p] == nil {
			t.Errorf("served document lacks path %s", p)
		}
	}
	if served.OpenAPI != "3.1.0" || len(served.Paths) != len(paths) {
		t.Fatalf("served document: openapi %q with %d paths", served.OpenAPI, len(served.Paths))
	}

	// The page is Swagger UI: every script and style sheet it loads is served
	// here, from this origin, and no script is inline (the CSP forbids it).
	page := get(apidocs.PagePath, "text/html")
	refs := assetRef.FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("page loads %d assets: %s", len(refs), page)
	}
	for _, m := range refs {
		if !strings.HasPrefix(m[1], apidocs.AssetPrefix) {
			t.Errorf("page loads %s from outside %s", m[1], apidocs.AssetPrefix)
			continue
		}
		want := map[string]string{".js": "text/javascript", ".css": "text/css", ".png": "image/png"}[path.Ext(m[1])]
		body := get(m[1], want)
		if strings.HasSuffix(m[1], "swagger-ui-bundle.js") && !strings.Contains(body, "SwaggerUIBundle") {
			t.Errorf("%s is not the Swagger UI bundle", m[1])
		}
		if strings.HasSuffix(m[1], "swagger-initializer.js") && !strings.Contains(body, `url: "`+apidocs.JSONPath+`"`) {
			t.Errorf("the initializer does not load %s:\n%s", apidocs.JSONPath, body)
		}
	}
	if inlineScript.MatchString(page) {
		t.Error("page has an inline script")
	}
	resp, err := http.Get(srv.URL + apidocs.PagePath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	script := ""
	for _, d := range strings.Split(csp, ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "script-src" {
			script = strings.TrimSpace(d)
		}
	}
	if script != "script-src 'self'" || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("page CSP %q", csp)
	}
	// The Authorize button: an admin token scheme whose token URL is served locally.
	var schemes struct {
		Components struct {
			SecuritySchemes map[string]struct {
				Flows struct {
					ClientCredentials struct {
						TokenURL string `json:"tokenUrl"`
					} `json:"clientCredentials"`
				} `json:"flows"`
			} `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(get(apidocs.JSONPath, "application/json")), &schemes); err != nil {
		t.Fatal(err)
	}
	if got := schemes.Components.SecuritySchemes["adminToken"].Flows.ClientCredentials.TokenURL; got != "/api/v1/oauth/token" {
		t.Errorf("adminToken's token URL %q", got)
	}
}

var (
	assetRef     = regexp.MustCompile(`(?:src|href)="([^"]+)"`)
	inlineScript = regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`)
)
