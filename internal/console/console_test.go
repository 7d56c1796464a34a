package console

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/httpapi"
)

func get(t *testing.T, s *Site, route, rawPath string, params map[string]string, headers map[string]string) httpapi.Response {
	t.Helper()
	for _, r := range s.Routes() {
		if r.Key == route {
			resp, err := r.Handle(context.Background(), &httpapi.Request{Event: &events.APIGatewayV2HTTPRequest{RawPath: rawPath, PathParameters: params, Headers: headers}})
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}
	}
	t.Fatalf("no route %s", route)
	return httpapi.Response{}
}

func TestServesThePageAndVersionedAssets(t *testing.T) {
	s := New(Config{AuthorizeURL: "https://auth.example/oauth2/authorize", TokenURL: "https://auth.example/oauth2/token", ClientID: "c1", Scopes: []string{"pregate/webhook:read"}})
	version, err := s.Version()
	if err != nil {
		t.Fatal(err)
	}
	if r := get(t, s, "GET /admin", "/admin", nil, nil); r.Status != http.StatusFound || r.Headers["Location"] != "/admin/" {
		t.Fatalf("/admin: %d %v", r.Status, r.Headers)
	}
	page := get(t, s, "GET /admin", "/admin/", nil, nil)
	body := string(page.Raw)
	if page.Status != 200 || !strings.Contains(body, `/admin/assets/`+version+`/js/main.js`) || !strings.Contains(body, `&#34;client_id&#34;:&#34;c1&#34;`) {
		t.Fatalf("page: %d %s", page.Status, body)
	}
	csp := page.Headers["Content-Security-Policy"]
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "connect-src 'self' https://auth.example"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(body, "<script>") {
		t.Error("inline script allowed or present")
	}
	if page.Headers["Cache-Control"] != "no-cache" {
		t.Errorf("page cached: %q", page.Headers["Cache-Control"])
	}

	js := get(t, s, "GET /admin/{proxy+}", "", map[string]string{"proxy": "assets/" + version + "/js/main.js"}, nil)
	if js.Status != 200 || !strings.HasPrefix(js.Headers["Content-Type"], "text/javascript") || !strings.Contains(js.Headers["Cache-Control"], "immutable") {
		t.Fatalf("asset: %d %v", js.Status, js.Headers)
	}
	if again := get(t, s, "GET /admin/{proxy+}", "", map[string]string{"proxy": "assets/" + version + "/js/main.js"}, map[string]string{"if-none-match": js.Headers["ETag"]}); again.Status != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", again.Status)
	}
	if old := get(t, s, "GET /admin/{proxy+}", "", map[string]string{"proxy": "assets/0ld/app.css"}, nil); old.Status != 200 || old.Headers["Cache-Control"] != "no-cache" {
		t.Errorf("an older version's asset: %d %v", old.Status, old.Headers)
	}
	for _, missing := range []string{"assets/" + version + "/nope.js", "favicon.ico"} {
		if r := get(t, s, "GET /admin/{proxy+}", "", map[string]string{"proxy": missing}, nil); r.Status != 404 {
			t.Errorf("%s: %d", missing, r.Status)
		}
	}
	if r := get(t, s, "GET /admin/{proxy+}", "", map[string]string{"proxy": "webhooks"}, nil); r.Status != 200 || string(r.Raw) != body {
		t.Errorf("a client route: %d", r.Status)
	}
}

// The admin API builds its console at every cold start, and most of its
// instances never serve a console route: New leaves the files to the first.
func TestNewReadsNoFile(t *testing.T) {
	cfg := Config{AuthorizeURL: "https://auth.example/oauth2/authorize", TokenURL: "https://auth.example/oauth2/token", ClientID: "c1"}
	if allocs := testing.AllocsPerRun(10, func() { New(cfg) }); allocs > 20 {
		t.Fatalf("New made %.0f allocations: it builds the files", allocs)
	}
}

func TestWithoutLoginTheConsoleSaysSo(t *testing.T) {
	if (Config{}).Enabled() {
		t.Fatal("an empty config is enabled")
	}
}
