// Package console serves the admin console: a small single-page app of plain
// JavaScript modules and CSS, embedded in the binary and served at /admin/ by
// the admin API function (API Gateway in AWS, the local gateway locally). It
// is only a client of the public API under /api/v1; it has no API of its own.
package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/pregate/pregate/internal/httpapi"
)

//go:embed static
var static embed.FS

// Config is what the browser needs to log in: an OAuth2 authorization-code
// client with PKCE (public, no secret).
type Config struct {
	// AuthorizeURL and TokenURL are the issuer's endpoints: Cognito's managed
	// login in AWS, the local issuer's /api/v1/oauth/* locally (a path
	// without a host means this origin).
	AuthorizeURL string `json:"authorize_url"`
	TokenURL     string `json:"token_url"`
	// LogoutURL, when set, ends the issuer's own session on sign-out.
	LogoutURL string `json:"logout_url,omitempty"`
	ClientID  string `json:"client_id"`
	// Scopes are requested at login, with the issuer's prefix ("pregate/").
	Scopes []string `json:"scopes"`
}

// Enabled reports whether login is configured; without it the console shows
// a page saying so instead of a login that cannot work.
func (c Config) Enabled() bool { return c.AuthorizeURL != "" && c.TokenURL != "" && c.ClientID != "" }

// AdminScopes are the scopes the console asks for (every admin scope), unprefixed.
var AdminScopes = []string{
	"connection:read", "connection:create_or_update", "connection:delete",
	"webhook:read", "webhook:create_or_update", "webhook:delete",
	"privacy-request:read", "privacy-request:review",
	"policy:read", "policy:create_or_update", "audit:read",
}

// asset is one file, ready to send.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Site is the console; its files are read and its page filled in when a
// console route is first asked, not at the admin API's cold start, which
// most invocations (the API's routes) make without ever serving them.
type Site struct {
	csp   string
	files func() (*files, error) // built once
}

// files are the built console: every asset read once, the page filled in.
type files struct {
	index   asset
	assets  map[string]asset // by path under static/, e.g. "js/main.js"
	version string           // hash of every asset: assets live under assets/<version>/
}

// New is the console for cfg; the embedded files are read at its first use.
func New(cfg Config) *Site {
	return &Site{csp: contentSecurityPolicy(cfg), files: sync.OnceValues(func() (*files, error) { return build(cfg) })}
}

func build(cfg Config) (*files, error) {
	f := &files{assets: map[string]asset{}}
	all := sha256.New()
	var names []string
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var page []byte
	for _, p := range names {
		body, err := static.ReadFile(p)
		if err != nil {
			return nil, err
		}
		rel := strings.TrimPrefix(p, "static/")
		fmt.Fprintf(all, "%s\x00%d\x00", rel, len(body))
		all.Write(body)
		if rel == "index.html" {
			page = body
			continue
		}
		f.assets[rel] = newAsset(rel, body)
	}
	if page == nil {
		return nil, fmt.Errorf("console: no index.html embedded")
	}
	f.version = hex.EncodeToString(all.Sum(nil))[:12]
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	page = bytes.ReplaceAll(page, []byte("{{ASSETS}}"), []byte("/admin/assets/"+f.version))
	page = bytes.ReplaceAll(page, []byte("{{CONFIG}}"), []byte(html.EscapeString(string(cfgJSON))))
	f.index = newAsset("index.html", page)
	return f, nil
}

func newAsset(name string, body []byte) asset {
	sum := sha256.Sum256(body)
	var ct string
	switch ext := path.Ext(name); ext { // the host's mime table may lack these
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".html":
		ct = "text/html; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	default:
		if ct = mime.TypeByExtension(ext); ct == "" {
			ct = "application/octet-stream"
		}
	}
	return asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// contentSecurityPolicy allows our own scripts and styles only (no inline
// script), API calls to this origin and to the token endpoint, and no framing.
func contentSecurityPolicy(cfg Config) string {
	connect := []string{"'self'"}
	if u, err := url.Parse(cfg.TokenURL); err == nil && u.Scheme == "https" && u.Host != "" {
		connect = append(connect, u.Scheme+"://"+u.Host)
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data:",
		"connect-src " + strings.Join(connect, " "),
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; ")
}

// Version is the asset version in this build (tests and screenshots).
func (s *Site) Version() (string, error) {
	f, err := s.files()
	if err != nil {
		return "", err
	}
	return f.version, nil
}

// Routes are the console's two routes: GET /admin (and /admin/, the page)
// and GET /admin/{proxy+} (the page for any client route, the assets).
// Neither needs a token: they are static files; the page logs in itself.
func (s *Site) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Key: "GET /admin", Handle: s.root},
		{Key: "GET /admin/{proxy+}", Handle: s.file},
	}
}

func (s *Site) root(_ context.Context, r *httpapi.Request) (httpapi.Response, error) {
	// API Gateway may route "/admin/" here as well as "/admin": only the
	// slash-less one is sent on, so relative URLs resolve under /admin/.
	if !strings.HasSuffix(r.Event.RawPath, "/") {
		return httpapi.Response{Status: http.StatusFound, NoBody: true, Headers: map[string]string{
			"Location": "/admin/", "Cache-Control": "no-cache"}}, nil
	}
	f, err := s.files()
	if err != nil {
		return httpapi.Response{}, err
	}
	return s.send(r, f.index, "no-cache"), nil
}

func (s *Site) file(_ context.Context, r *httpapi.Request) (httpapi.Response, error) {
	f, err := s.files()
	if err != nil {
		return httpapi.Response{}, err
	}
	p := r.Path("proxy")
	if rest, ok := strings.CutPrefix(p, "assets/"); ok {
		version, name, _ := strings.Cut(rest, "/")
		a, found := f.assets[name]
		if !found {
			return notFound(), nil
		}
		// Under this build's version an asset never changes; an older
		// page's request gets today's file, never kept.
		if version == f.version {
			return s.send(r, a, "public, max-age=31536000, immutable"), nil
		}
		return s.send(r, a, "no-cache"), nil
	}
	if path.Ext(p) != "" {
		return notFound(), nil
	}
	// Any other path is the page (the console routes in the URL's fragment).
	return s.send(r, f.index, "no-cache"), nil
}

func (s *Site) send(r *httpapi.Request, a asset, cache string) httpapi.Response {
	headers := map[string]string{
		"Content-Type":               a.contentType,
		"Cache-Control":              cache,
		"ETag":                       a.etag,
		"Content-Security-Policy":    s.csp,
		"X-Content-Type-Options":     "nosniff",
		"Referrer-Policy":            "no-referrer",
		"X-Frame-Options":            "DENY",
		"Cross-Origin-Opener-Policy": "same-origin",
	}
	if inm := r.Header("If-None-Match"); inm != "" && strings.Contains(inm, a.etag) {
		return httpapi.Response{Status: http.StatusNotModified, NoBody: true, Headers: headers}
	}
	return httpapi.Response{Status: http.StatusOK, Raw: a.body, Headers: headers}
}

func notFound() httpapi.Response {
	return httpapi.Response{Status: http.StatusNotFound, Body: map[string]string{"detail": "Not Found"}}
}
