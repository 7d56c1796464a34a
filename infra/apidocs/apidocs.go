// Package apidocs serves docs/openapi.yaml on the local gateway: the document
// as JSON and a self-contained HTML reference generated from it (no scripts,
// no CDN: the local machine may be offline).
package apidocs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/pregate/pregate/docs"
)

// Paths of the local-only routes served here (listed in docs/openapi.yaml as x-local-only).
const (
	JSONPath = "/api/v1/openapi.json"
	PagePath = "/api/v1/docs"
)

// Register adds the two routes through handle (the gateway's HandleLocal).
func Register(handle func(method, path string, h http.Handler)) error {
	raw, err := docs.JSON()
	if err != nil {
		return err
	}
	doc, err := docs.Parse(docs.OpenAPI)
	if err != nil {
		return err
	}
	page, err := Render(doc)
	if err != nil {
		return err
	}
	handle(http.MethodGet, JSONPath, static("application/json", raw))
	handle(http.MethodGet, PagePath, static("text/html; charset=utf-8", page))
	return nil
}

func static(contentType string, body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	})
}

// Render builds the reference page.
func Render(doc *docs.Document) ([]byte, error) {
	scopes := make([]string, 0, len(doc.Scopes))
	for s := range doc.Scopes {
		scopes = append(scopes, s)
	}
	sort.Strings(scopes)
	names := make([]string, 0, len(doc.Schemas))
	for n := range doc.Schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	err := page.Execute(&b, map[string]any{"Doc": doc, "Scopes": scopes, "SchemaNames": names})
	if err != nil {
		return nil, fmt.Errorf("render api reference: %w", err)
	}
	return b.Bytes(), nil
}

var refPattern = regexp.MustCompile(`&#34;#/components/schemas/([A-Za-z0-9_]+)&#34;`)

// schemaHTML shows a schema as indented JSON whose $refs link to the schema's section.
func schemaHTML(v any) (template.HTML, error) {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", err
	}
	return template.HTML(refPattern.ReplaceAllString(html.EscapeString(string(raw)), `<a href="#schema-$1">$1</a>`)), nil
}

// access says in words what an operation needs.
func access(op docs.Operation) string {
	switch {
	case op.LocalOnly:
		return "local only, public"
	case len(op.Security) == 0:
		return "public"
	}
	var parts []string
	for _, req := range op.Security {
		for scheme, scopes := range req {
			if len(scopes) == 0 {
				parts = append(parts, scheme)
			} else {
				parts = append(parts, scheme+": "+strings.Join(scopes, ", "))
			}
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " or ")
}

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"schema": func(v any) (template.HTML, error) {
		if m, ok := v.(map[string]any); ok {
			if ref, ok := m["$ref"].(string); ok {
				name := strings.TrimPrefix(ref, "#/components/schemas/")
				return template.HTML(`<a href="#schema-` + html.EscapeString(name) + `">` + html.EscapeString(name) + `</a>`), nil
			}
		}
		return schemaHTML(v)
	},
	"access": access,
	"anchor": func(op docs.Operation) string {
		return strings.ToLower(op.Method) + "-" + strings.NewReplacer("/", "-", "{", "", "}", "").Replace(strings.Trim(op.Path, "/"))
	},
	"lower": strings.ToLower,
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Doc.Title}} API reference</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
code, pre { font: 13px/1.4 ui-monospace, monospace; }
pre { background: #f5f5f5; padding: .6rem; overflow-x: auto; }
table { border-collapse: collapse; } td, th { border-bottom: 1px solid #ddd; padding: .25rem .6rem; text-align: left; vertical-align: top; }
.method { display: inline-block; min-width: 4.5rem; font-weight: bold; }
.get { color: #0a6; } .post { color: #06c; } .put { color: #a60; } .patch { color: #a0a; } .delete { color: #c22; }
section.op { border-top: 1px solid #ccc; margin-top: 1.5rem; }
.desc { white-space: pre-wrap; }
</style>
</head>
<body>
<h1>{{.Doc.Title}} <small>API {{.Doc.Version}}</small></h1>
<p class="desc">{{.Doc.Description}}</p>
<p>The document itself: <a href="openapi.json">openapi.json</a>.</p>

<h2>Routes</h2>
<table>
<tr><th>Route</th><th>Access</th><th>Summary</th></tr>
{{range .Doc.Operations}}<tr><td><a href="#{{anchor .}}"><span class="method {{lower .Method}}">{{.Method}}</span><code>{{.Path}}</code></a></td><td>{{access .}}</td><td>{{.Summary}}</td></tr>
{{end}}</table>

<h2>Admin scopes</h2>
<table>
<tr><th>Scope</th><th>Grants</th></tr>
{{range .Scopes}}<tr><td><code>{{.}}</code></td><td>{{index $.Doc.Scopes .}}</td></tr>
{{end}}</table>

<h2>Operations</h2>
{{range .Doc.Operations}}<section class="op" id="{{anchor .}}">
<h3><span class="method {{lower .Method}}">{{.Method}}</span><code>{{.Path}}</code></h3>
<p>{{.Summary}}. <strong>Access:</strong> {{access .}}. <strong>Operation id:</strong> <code>{{.ID}}</code>.</p>
{{if .Description}}<p class="desc">{{.Description}}</p>{{end}}
{{if .Request}}<h4>Request body</h4><pre>{{schema .Request}}</pre>{{end}}
<h4>Responses</h4>
<table>
{{range .Responses}}<tr><td><code>{{.Code}}</code></td><td>{{.Description}}</td><td>{{if .Schema}}<pre>{{schema .Schema}}</pre>{{else}}no body{{end}}</td></tr>
{{end}}</table>
</section>
{{end}}

<h2>Schemas</h2>
{{range .SchemaNames}}<section id="schema-{{.}}"><h3>{{.}}</h3><pre>{{schema (index $.Doc.Schemas .)}}</pre></section>
{{end}}
</body>
</html>
`))
