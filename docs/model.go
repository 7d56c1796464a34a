package docs

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pregate/pregate/infra/stack"
)

// Document is the part of the OpenAPI document that the route test and the
// local reference page read: operations, their security and responses.
type Document struct {
	Title, Version, Description string
	Operations                  []Operation
	// Scopes are the admin token's scopes and their descriptions.
	Scopes map[string]string
	// Schemas are components.schemas, as plain values.
	Schemas map[string]any
}

// Operation is one method of one path.
type Operation struct {
	Method                   string // upper case, e.g. GET
	Path                     string // with the server's base path, e.g. /api/v1/connection/{key}
	ID, Summary, Description string
	// Security lists the alternative requirements: scheme -> scopes.
	Security  []map[string][]string
	LocalOnly bool
	// Request is the request body's schema (nil without a body).
	Request   any
	Responses []Response
}

// Key is the API Gateway route key, e.g. "GET /api/v1/connection/{key}".
func (o Operation) Key() string { return o.Method + " " + o.Path }

// Response is one declared status code.
type Response struct {
	Code, Description string
	Schema            any // nil without a body
}

type rawOperation struct {
	OperationID string                `yaml:"operationId"`
	Summary     string                `yaml:"summary"`
	Description string                `yaml:"description"`
	Security    []map[string][]string `yaml:"security"`
	LocalOnly   bool                  `yaml:"x-local-only"`
	RequestBody map[string]any        `yaml:"requestBody"`
	Responses   map[string]any        `yaml:"responses"`
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Parse reads an OpenAPI document's operations, resolving local $refs of
// responses and request bodies so each operation is self-contained.
func Parse(raw []byte) (*Document, error) {
	var root map[string]any
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("parse openapi document: %w", err)
	}
	var head struct {
		Info struct {
			Title, Version, Description string
		}
		Servers []struct{ URL string }
		Paths   map[string]map[string]yaml.Node
	}
	if err := yaml.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("parse openapi document: %w", err)
	}
	base := ""
	if len(head.Servers) > 0 {
		base = strings.TrimSuffix(head.Servers[0].URL, "/")
	}
	doc := &Document{Title: head.Info.Title, Version: head.Info.Version, Description: head.Info.Description, Scopes: map[string]string{}}
	doc.Schemas, _ = stack.Dig(root, "components", "schemas").(map[string]any)
	if scopes, ok := stack.Dig(root, "components", "securitySchemes", "adminToken", "flows", "clientCredentials", "scopes").(map[string]any); ok {
		for k, v := range scopes {
			doc.Scopes[k] = fmt.Sprint(v)
		}
	}
	for path, item := range head.Paths {
		for _, m := range methods {
			node, ok := item[m]
			if !ok {
				continue
			}
			var op rawOperation
			if err := node.Decode(&op); err != nil {
				return nil, fmt.Errorf("%s %s: %w", m, path, err)
			}
			out := Operation{
				Method: strings.ToUpper(m), Path: base + path, ID: op.OperationID, Summary: op.Summary,
				Description: op.Description, Security: op.Security, LocalOnly: op.LocalOnly,
			}
			if op.RequestBody != nil {
				out.Request = jsonSchema(resolve(root, op.RequestBody))
			}
			for code, r := range op.Responses {
				resp, _ := resolve(root, r).(map[string]any)
				desc, _ := resp["description"].(string)
				out.Responses = append(out.Responses, Response{Code: code, Description: desc, Schema: jsonSchema(resp)})
			}
			sort.Slice(out.Responses, func(i, j int) bool { return out.Responses[i].Code < out.Responses[j].Code })
			doc.Operations = append(doc.Operations, out)
		}
	}
	sort.Slice(doc.Operations, func(i, j int) bool {
		a, b := doc.Operations[i], doc.Operations[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Method < b.Method
	})
	return doc, nil
}

// JSON is the document as JSON, as the local gateway serves it.
func JSON() ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(OpenAPI, &v); err != nil {
		return nil, fmt.Errorf("parse openapi document: %w", err)
	}
	return json.Marshal(v)
}

// jsonSchema picks the application/json (or first) media type's schema of a
// response or request body.
func jsonSchema(body any) any {
	content, _ := stack.Dig(body, "content").(map[string]any)
	if mt, ok := content["application/json"]; ok {
		return stack.Dig(mt, "schema")
	}
	for _, mt := range content {
		return stack.Dig(mt, "schema")
	}
	return nil
}

// resolve follows a local "#/a/b" $ref.
func resolve(root map[string]any, v any) any {
	ref, ok := stack.Dig(v, "$ref").(string)
	if !ok || !strings.HasPrefix(ref, "#/") {
		return v
	}
	return stack.Dig(root, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
}
