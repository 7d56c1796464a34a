// Package stack reads template.yaml and brings up its tables, queues, key and
// secret on any AWS endpoint (moto locally, LocalStack or a real account), so
// the local stack and the tests use exactly the resources that are deployed.
package stack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is the part of a SAM template the local stack needs.
type Template struct {
	Resources map[string]Resource
	// GlobalEnv is Globals.Function.Environment.Variables, unresolved.
	GlobalEnv map[string]any
	// Parameters maps each parameter to its default value.
	Parameters map[string]string
	// Conditions are the template's conditions, unevaluated.
	Conditions map[string]any
	// Outputs are the stack outputs by name, unevaluated (the docs'
	// operator commands read them).
	Outputs map[string]any
}

// Resource is one entry of Resources, with intrinsic functions kept as
// single-key maps ({"Ref": "X"}, {"Fn::GetAtt": ["X", "Arn"]}, ...).
type Resource struct {
	Type       string
	Properties map[string]any
	// Metadata is the resource's Metadata, e.g. {"BuildMethod": "makefile"} for sam build.
	Metadata map[string]any
}

// Route is an HTTP API route and the function that serves it.
type Route struct {
	Method   string
	Path     string // e.g. /api/v1/connection/{key}
	Function string // logical id
	// Authorized is true when the route sits behind the JWT authorizer.
	Authorized bool
}

// Key is the API Gateway route key, e.g. "GET /api/v1/connection/{key}".
func (r Route) Key() string { return r.Method + " " + r.Path }

// LoadTemplate reads and parses a template file.
func LoadTemplate(path string) (*Template, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	return ParseTemplate(raw)
}

// ParseTemplate parses template YAML, accepting CloudFormation's short tags.
func ParseTemplate(raw []byte) (*Template, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if len(root.Content) == 0 {
		return nil, errors.New("parse template: empty document")
	}
	doc, ok := nodeValue(root.Content[0]).(map[string]any)
	if !ok {
		return nil, errors.New("parse template: top level is not a mapping")
	}
	t := &Template{Resources: map[string]Resource{}, GlobalEnv: map[string]any{}, Parameters: map[string]string{}}
	resources, _ := doc["Resources"].(map[string]any)
	for id, v := range resources {
		m, _ := v.(map[string]any)
		typ, _ := m["Type"].(string)
		props, _ := m["Properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
		}
		meta, _ := m["Metadata"].(map[string]any)
		t.Resources[id] = Resource{Type: typ, Properties: props, Metadata: meta}
	}
	if g, ok := Dig(doc, "Globals", "Function", "Environment", "Variables").(map[string]any); ok {
		t.GlobalEnv = g
	}
	t.Conditions, _ = doc["Conditions"].(map[string]any)
	t.Outputs, _ = doc["Outputs"].(map[string]any)
	params, _ := doc["Parameters"].(map[string]any)
	for name, v := range params {
		m, _ := v.(map[string]any)
		t.Parameters[name] = scalarString(m["Default"])
	}
	return t, nil
}

// Routes lists the HTTP API routes of every function, sorted by path then method.
func (t *Template) Routes() ([]Route, error) {
	defaultAuth := ""
	for _, r := range t.Resources {
		if r.Type == "AWS::Serverless::HttpApi" {
			defaultAuth, _ = Dig(r.Properties, "Auth", "DefaultAuthorizer").(string)
		}
	}
	var routes []Route
	seen := map[string]string{}
	for id, r := range t.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		evts, _ := r.Properties["Events"].(map[string]any)
		for name, e := range evts {
			em, _ := e.(map[string]any)
			if em["Type"] != "HttpApi" {
				continue
			}
			p, _ := em["Properties"].(map[string]any)
			method, _ := p["Method"].(string)
			path, _ := p["Path"].(string)
			if method == "" || path == "" {
				return nil, fmt.Errorf("function %s event %s: HttpApi event needs Method and Path", id, name)
			}
			auth := defaultAuth
			if a, ok := Dig(p, "Auth", "Authorizer").(string); ok {
				auth = a
			}
			route := Route{Method: strings.ToUpper(method), Path: path, Function: id, Authorized: auth != "" && auth != "NONE"}
			if other, dup := seen[route.Key()]; dup {
				return nil, fmt.Errorf("route %s is served by both %s and %s", route.Key(), other, id)
			}
			seen[route.Key()] = id
			routes = append(routes, route)
		}
	}
	sort.Slice(routes, func(i, j int) bool {
		if routes[i].Path != routes[j].Path {
			return routes[i].Path < routes[j].Path
		}
		return routes[i].Method < routes[j].Method
	})
	return routes, nil
}

// FunctionEnv is the function's environment: the globals overlaid with its own variables, unresolved.
func (t *Template) FunctionEnv(function string) map[string]any {
	env := map[string]any{}
	for k, v := range t.GlobalEnv {
		env[k] = v
	}
	if own, ok := Dig(t.Resources[function].Properties, "Environment", "Variables").(map[string]any); ok {
		for k, v := range own {
			env[k] = v
		}
	}
	return env
}

// FindRoot walks up from dir to the folder holding go.mod and template.yaml.
func FindRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if fileExists(filepath.Join(d, "go.mod")) && fileExists(filepath.Join(d, "template.yaml")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod with template.yaml above %s", dir)
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// nodeValue turns a YAML node into plain Go values, mapping short intrinsic
// tags to their long form: !Ref X -> {"Ref": X}, !GetAtt A.B -> {"Fn::GetAtt": [A, B]}.
func nodeValue(n *yaml.Node) any {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return nodeValue(n.Content[0])
		}
		return nil
	case yaml.AliasNode:
		return nodeValue(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = nodeValue(n.Content[i+1])
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			s = append(s, nodeValue(c))
		}
		v = s
	default:
		if n.Tag == "!!null" {
			v = nil
		} else {
			v = n.Value
		}
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v
	}
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}
	case "GetAtt":
		if s, ok := v.(string); ok {
			a, b, _ := strings.Cut(s, ".")
			return map[string]any{"Fn::GetAtt": []any{a, b}}
		}
		return map[string]any{"Fn::GetAtt": v}
	default:
		return map[string]any{"Fn::" + name: v}
	}
}

// Dig follows path through nested maps (decoded YAML or JSON), nil where it breaks off.
func Dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func scalarString(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}
