package apidocs_test

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
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

	page := html.UnescapeString(get(apidocs.PagePath, "text/html"))
	for _, op := range doc.Operations {
		if !strings.Contains(page, op.Method+"</span><code>"+op.Path+"</code>") {
			t.Errorf("page lacks %s", op.Key())
		}
	}
	for scope := range doc.Scopes {
		if !strings.Contains(page, "<code>"+scope+"</code>") {
			t.Errorf("page lacks scope %s", scope)
		}
	}
	for name := range doc.Schemas {
		if !strings.Contains(page, `id="schema-`+name+`"`) {
			t.Errorf("page lacks schema %s", name)
		}
	}
	// Self-contained: nothing loaded from elsewhere.
	for _, outside := range []string{"<script", "src=", "<link"} {
		if strings.Contains(page, outside) {
			t.Errorf("page has %q", outside)
		}
	}
}
