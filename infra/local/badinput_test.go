package local_test

import (
	"strings"
	"testing"
)

// TestBadAdminInputs: each bad input gets its 4xx and changes nothing.
func TestBadAdminInputs(t *testing.T) {
	c := admin(t)
	conn := c.connection(unique("bad"))
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []map[string]any{{"key": "keep", "name": "Keep", "connection_config_key": conn}}, nil)
	t.Cleanup(func() { c.do("PUT", "/dsr/webhook/pre_approval", []any{}) })
	state := func() string {
		_, conns := c.do("GET", "/connection?size=100", nil)
		_, hooks := c.do("GET", "/dsr/webhook/pre_approval?size=100", nil)
		return string(conns) + string(hooks)
	}
	conn1 := func(extra map[string]any) []map[string]any {
		item := map[string]any{"key": "new_conn", "name": "New", "connection_type": "https", "access": "read"}
		for k, v := range extra {
			if v == nil {
				delete(item, k)
			} else {
				item[k] = v
			}
		}
		return []map[string]any{item}
	}
	many := make([]map[string]any, 51)
	for i := range many {
		many[i] = map[string]any{"name": "W" + strings.Repeat("x", i), "connection_config_key": conn}
	}
	cases := []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"connection: malformed json", "PATCH", "/connection", `[{"name":`, 400},
		{"connection: trailing data", "PATCH", "/connection", `[] []`, 400},
		{"connection: empty body", "PATCH", "/connection", ``, 422},
		{"connection: not a list", "PATCH", "/connection", map[string]any{"name": "x"}, 422},
		{"connection: empty list", "PATCH", "/connection", []any{}, 422},
		{"connection: 51 items", "PATCH", "/connection", many, 422},
		{"connection: no name", "PATCH", "/connection", conn1(map[string]any{"name": nil}), 422},
		{"connection: bad type", "PATCH", "/connection", conn1(map[string]any{"connection_type": "postgres"}), 422},
		{"connection: bad access", "PATCH", "/connection", conn1(map[string]any{"access": "admin"}), 422},
		{"connection: bad key", "PATCH", "/connection", conn1(map[string]any{"key": "has space"}), 422},
		{"connection: unknown field", "PATCH", "/connection", conn1(map[string]any{"secrets": "x"}), 422},
		{"connection: wrong type", "PATCH", "/connection", conn1(map[string]any{"disabled": "yes"}), 422},
		{"connection: name of symbols only", "PATCH", "/connection", conn1(map[string]any{"key": nil, "name": "!!!"}), 422},
		{"connection: get unknown", "GET", "/connection/nope", nil, 404},
		{"connection: delete unknown", "DELETE", "/connection/nope", nil, 404},
		{"connection: bad page", "GET", "/connection?page=0", nil, 422},
		{"connection: bad size", "GET", "/connection?size=101", nil, 422},
		{"connection: size not a number", "GET", "/connection?size=x", nil, 422},
		{"secret: unknown connection, bad body", "PUT", "/connection/nope/secret", `{`, 404},
		{"secret: missing authorization", "PUT", "/connection/" + conn + "/secret", map[string]any{"url": "https://example.com"}, 422},
		{"secret: missing url", "PUT", "/connection/" + conn + "/secret", map[string]any{"authorization": "x"}, 422},
		{"secret: ftp url", "PUT", "/connection/" + conn + "/secret", map[string]any{"url": "ftp://example.com/", "authorization": "x"}, 422},
		{"secret: url with userinfo", "PUT", "/connection/" + conn + "/secret", map[string]any{"url": "https://u:p@example.com/", "authorization": "x"}, 422},
		{"secret: header with newline", "PUT", "/connection/" + conn + "/secret", map[string]any{"url": "https://example.com/", "authorization": "x", "headers": map[string]string{"X-A": "a\r\nb"}}, 422},
		{"secret: too large", "PUT", "/connection/" + conn + "/secret", map[string]any{"url": "https://example.com/", "authorization": strings.Repeat("a", 5000)}, 422},
		{"secret: unknown field", "PATCH", "/connection/" + conn + "/secret", map[string]any{"password": "x"}, 422},
		{"webhooks: malformed json", "PUT", "/dsr/webhook/pre_approval", `[{`, 400},
		{"webhooks: null", "PUT", "/dsr/webhook/pre_approval", `null`, 422},
		{"webhooks: object", "PUT", "/dsr/webhook/pre_approval", map[string]any{}, 422},
		{"webhooks: 51 items", "PUT", "/dsr/webhook/pre_approval", many, 422},
		{"webhooks: missing name", "PUT", "/dsr/webhook/pre_approval", []map[string]any{{"key": "a", "connection_config_key": conn}}, 422},
		{"webhooks: missing connection", "PUT", "/dsr/webhook/pre_approval", []map[string]any{{"key": "a", "name": "A"}}, 422},
		{"webhooks: bad key", "PUT", "/dsr/webhook/pre_approval", []map[string]any{{"key": "a/b", "name": "A", "connection_config_key": conn}}, 422},
		{"webhooks: unknown field", "PUT", "/dsr/webhook/pre_approval", []map[string]any{{"key": "a", "name": "A", "connection_config_key": conn, "url": "x"}}, 422},
		{"webhooks: unknown connection", "PUT", "/dsr/webhook/pre_approval", []map[string]any{{"key": "a", "name": "A", "connection_config_key": "nope"}}, 404},
		{"webhooks: duplicate", "PUT", "/dsr/webhook/pre_approval", []map[string]any{{"key": "a", "name": "A", "connection_config_key": conn}, {"key": "a", "name": "B", "connection_config_key": conn}}, 400},
		{"webhook: patch key", "PATCH", "/dsr/webhook/pre_approval/keep", map[string]any{"key": "other"}, 422},
		{"webhook: patch empty name", "PATCH", "/dsr/webhook/pre_approval/keep", map[string]any{"name": ""}, 422},
		{"webhook: patch unknown field", "PATCH", "/dsr/webhook/pre_approval/keep", map[string]any{"enabled": true}, 422},
		{"webhook: patch unknown connection", "PATCH", "/dsr/webhook/pre_approval/keep", map[string]any{"connection_config_key": "nope"}, 404},
		{"webhook: patch unknown webhook", "PATCH", "/dsr/webhook/pre_approval/nope", map[string]any{"name": "X"}, 404},
		{"webhook: rotate unknown", "POST", "/dsr/webhook/pre_approval/nope/rotate-secret", nil, 404},
		{"webhook: delete unknown", "DELETE", "/dsr/webhook/pre_approval/nope", nil, 404},
		{"webhook: body over 1 MiB", "PUT", "/dsr/webhook/pre_approval", `"` + strings.Repeat("a", 1<<20) + `"`, 413},
	}
	before := state()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, raw := c.do(tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("%d %s, want %d", status, raw, tc.status)
			}
			if after := state(); after != before {
				t.Fatalf("state changed:\n%s\n%s", before, after)
			}
		})
	}
}
