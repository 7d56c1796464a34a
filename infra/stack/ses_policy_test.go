package stack

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The public API may send code mails whether SES has the sender's address
// or its domain as the verified identity (SES authorises a send against the
// identity that verifies the sender), and from no other identity.
func TestCodeMailsMaySendFromTheSenderAddressOrItsDomain(t *testing.T) {
	tmpl := repoTemplate(t)
	const sender = "codes@mail.example.com"
	var got []string
	policies, _ := tmpl.Resources["PublicApiFunction"].Properties["Policies"].([]any)
	for _, p := range policies {
		stmts, _ := Dig(p, "Statement").([]any)
		for _, st := range stmts {
			if Dig(st, "Action") != "ses:SendEmail" {
				continue
			}
			resources, ok := Dig(st, "Resource").([]any)
			if !ok {
				resources = []any{Dig(st, "Resource")}
			}
			for _, r := range resources {
				arn, err := evalPolicyValue(r, map[string]string{"VerificationSenderEmail": sender})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, arn)
			}
		}
	}
	want := []string{
		"arn:aws:ses:eu-west-1:123456789012:identity/" + sender,
		"arn:aws:ses:eu-west-1:123456789012:identity/mail.example.com",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("ses:SendEmail on identities %v, want %v", got, want)
	}
}

// evalPolicyValue evaluates the intrinsics a policy resource uses (Ref,
// Fn::Sub in both forms, Fn::Select, Fn::Split) with the given parameters,
// in a fixed account and region.
func evalPolicyValue(v any, params map[string]string) (string, error) {
	pseudo := map[string]string{"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}
	var eval func(v any) (any, error)
	eval = func(v any) (any, error) {
		m, ok := v.(map[string]any)
		if !ok {
			return v, nil
		}
		switch {
		case m["Ref"] != nil:
			name := fmt.Sprint(m["Ref"])
			if p, ok := params[name]; ok {
				return p, nil
			}
			return nil, fmt.Errorf("ref to %s", name)
		case m["Fn::Sub"] != nil:
			tmplStr, local := m["Fn::Sub"], map[string]string{}
			if list, ok := tmplStr.([]any); ok && len(list) == 2 {
				tmplStr = list[0]
				defs, _ := list[1].(map[string]any)
				for k, d := range defs {
					x, err := eval(d)
					if err != nil {
						return nil, err
					}
					local[k] = fmt.Sprint(x)
				}
			}
			out := fmt.Sprint(tmplStr)
			for _, names := range []map[string]string{local, pseudo, params} {
				for k, x := range names {
					out = strings.ReplaceAll(out, "${"+k+"}", x)
				}
			}
			if strings.Contains(out, "${") {
				return nil, fmt.Errorf("unresolved Sub: %s", out)
			}
			return out, nil
		case m["Fn::Split"] != nil:
			args, _ := m["Fn::Split"].([]any)
			s, err := eval(args[1])
			if err != nil {
				return nil, err
			}
			parts := []any{}
			for _, p := range strings.Split(fmt.Sprint(s), fmt.Sprint(args[0])) {
				parts = append(parts, p)
			}
			return parts, nil
		case m["Fn::Select"] != nil:
			args, _ := m["Fn::Select"].([]any)
			list, err := eval(args[1])
			if err != nil {
				return nil, err
			}
			items, _ := list.([]any)
			var i int
			if _, err := fmt.Sscan(fmt.Sprint(args[0]), &i); err != nil || i >= len(items) {
				return nil, fmt.Errorf("select %v of %v", args[0], items)
			}
			return items[i], nil
		}
		return nil, fmt.Errorf("intrinsic %v not evaluated here", m)
	}
	out, err := eval(v)
	if err != nil {
		return "", err
	}
	s, ok := out.(string)
	if !ok {
		return "", fmt.Errorf("%v is not a string", out)
	}
	return s, nil
}
