// Package apidocs serves docs/openapi.yaml on the local gateway: the document
// as JSON, and the API reference page, Swagger UI, embedded from
// github.com/swaggo/files/v2 (the swagger-ui dist), so the page needs no CDN
// and works offline. A reader can authorize with an admin token (the local
// token endpoint's client-credentials flow, or a pasted token) and try every
// request from the page.
package apidocs

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"

	swaggerfiles "github.com/swaggo/files/v2"

	"github.com/pregate/pregate/docs"
)

// Paths of the local-only routes served here (listed in docs/openapi.yaml as x-local-only).
const (
	JSONPath = "/api/v1/openapi.json"
	PagePath = "/api/v1/docs"
	// AssetPrefix is where the page's scripts, style sheet and icons are served.
	AssetPrefix = PagePath + "/"
)

// CSP is the reference page's Content-Security-Policy: scripts, styles and
// calls from this origin only, and no inline script (the initializer is a
// file); inline styles are allowed, as Swagger UI applies some.
// Its icons are data: URLs.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed static
var static embed.FS

// swaggerAssets are the files of the swagger-ui dist the page loads.
var swaggerAssets = []string{"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png"}

// Register adds the routes through handle (the gateway's HandleLocal).
func Register(handle func(method, path string, h http.Handler)) error {
	raw, err := docs.JSON()
	if err != nil {
		return err
	}
	handle(http.MethodGet, JSONPath, serve("application/json", raw))
	page, err := static.ReadFile("static/index.html")
	if err != nil {
		return err
	}
	handle(http.MethodGet, PagePath, serve("text/html; charset=utf-8", page))
	init, err := static.ReadFile("static/swagger-initializer.js")
	if err != nil {
		return err
	}
	handle(http.MethodGet, AssetPrefix+"swagger-initializer.js", serve("text/javascript; charset=utf-8", init))
	for _, name := range swaggerAssets {
		body, err := fs.ReadFile(swaggerfiles.FS, name)
		if err != nil {
			return fmt.Errorf("swagger-ui asset %s: %w", name, err)
		}
		handle(http.MethodGet, AssetPrefix+name, serve(contentType(name), body))
	}
	return nil
}

func contentType(name string) string {
	switch {
	case len(name) > 3 && name[len(name)-3:] == ".js":
		return "text/javascript; charset=utf-8"
	case len(name) > 4 && name[len(name)-4:] == ".css":
		return "text/css; charset=utf-8"
	}
	return "image/png"
}

func serve(contentType string, body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		_, _ = w.Write(body)
	})
}
