package local

import (
	"sort"

	"github.com/pregate/pregate/infra/stack"
)

// localOnlySettings are read by the local stack alone: its root client and
// console user.
var localOnlySettings = []string{"OAUTH_ROOT_CLIENT_ID", "OAUTH_ROOT_CLIENT_SECRET", "LOCAL_ADMIN_USER", "LOCAL_ADMIN_PASSWORD"}

// ShellSettings are the variables `make run` takes from the shell, sorted:
// every function variable the template sets from a parameter (a setting of
// AWS is a setting here), the local defaults, and the local-only ones.
// Variables naming the stack's resources are not among them: the local stack
// provisions its own.
func ShellSettings(tmpl *stack.Template) []string {
	names := map[string]bool{}
	for _, n := range localOnlySettings {
		names[n] = true
	}
	for n := range LocalDefaults {
		names[n] = true
	}
	for id, r := range tmpl.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		for n, v := range tmpl.FunctionEnv(id) {
			if refersToParameter(tmpl, v) {
				names[n] = true
			}
		}
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// refersToParameter reports whether a template value is, or chooses between,
// a Ref to a parameter (Fn::If with a parameter in a branch counts).
func refersToParameter(tmpl *stack.Template, v any) bool {
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok {
			_, isParam := tmpl.Parameters[ref]
			return isParam
		}
		if branches, ok := v["Fn::If"].([]any); ok && len(branches) == 3 {
			return refersToParameter(tmpl, branches[1]) || refersToParameter(tmpl, branches[2])
		}
	}
	return false
}
