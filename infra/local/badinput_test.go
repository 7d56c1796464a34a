package local_test

import (
	"context"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/internal/dnstest"
)

// TestBadAdminInputs: each bad input gets its 4xx and changes nothing.
func TestBadAdminInputs(t *testing.T) {
	c := admin(t)
	conn := c.connection(unique("bad"))
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []map[string]any{{"key": "keep", "name": "Keep", "connection_config_key": conn}}, nil)
	t.Cleanup(func() { c.do("PUT", "/dsr/webhook/pre_approval", []any{}) })
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
	checkBadInputs(t, c, []badInput{
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
		{"secret: merge into unknown connection", "PATCH", "/connection/nope/secret", map[string]any{"authorization": "x"}, 404},
		{"secret: missing authorization", "PUT", "/connection/" + conn + "/secret", map[string]any{"url": "https://example.com"}, 422},
		{"secret: missing url", "PUT", "/connection/" + conn + "/secret", map[string]any{"authorization": "x"}, 422},
		{"secret: ftp url", "PUT", "/connection/" + conn + "/secret", map[string]any{"url": "ftp://example.com/", "authorization": "x"}, 422},
		{"secret: url with userinfo", "PUT", "/connection/" + conn + "/secret", map[string]any{"url": "https://u:p@example.com/", "authorization": "x"}, 422},
		{"secret: header with newline", "PUT", "/connection/" + conn + "/secret", map[string]any{"url": "https://example.com/", "authorization": "x", "headers": map[string]string{"X-A": "a\r\nb"}}, 422},
		{"secret: header value a number", "PUT", "/connection/" + conn + "/secret", `{"url":"https://example.com/","authorization":"x","headers":{"X":1}}`, 422},
		{"secret: headers a string", "PUT", "/connection/" + conn + "/secret", `{"url":"https://example.com/","authorization":"x","headers":"x"}`, 422},
		{"secret: headers a list", "PATCH", "/connection/" + conn + "/secret", `{"headers":["a"]}`, 422},
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
	}, map[string]string{
		"connection: get unknown":               "No connection config found with key nope",
		"connection: delete unknown":            "No connection config found with key nope",
		"secret: unknown connection, bad body":  "No connection config found with key nope",
		"secret: merge into unknown connection": "No connection config found with key nope",
		"secret: missing authorization":         httpsSchemaError,
		"secret: missing url":                   httpsSchemaError,
		"webhooks: unknown connection":          "No connection configuration found with key 'nope'.",
		"webhooks: duplicate":                   "Check request body: there are multiple webhooks whose keys or names resolve to the same value.",
		"webhook: patch unknown connection":     "No connection configuration found with key 'nope'.",
		"webhook: patch unknown webhook":        "No PreApprovalWebhook found for key nope.",
		"webhook: rotate unknown":               "No PreApprovalWebhook found for key nope.",
		"webhook: delete unknown":               "No PreApprovalWebhook found for key nope.",
	})
}

// httpsSchemaError is the 422 for secrets without url or authorization.
const httpsSchemaError = `[{"loc":["body"],"msg":"HttpsSchema must be supplied all of: ['url', 'authorization'].","type":"value_error"}]`

// badInput is one refused admin call and its status.
type badInput struct {
	name, method, path string
	body               any
	status             int
}

// checkBadInputs sends each input and checks its status, its exact detail
// when details has one under the case's name (a string, or the JSON of a
// validation error's list), and that the connections (with their secrets'
// url) and the webhooks read the same after.
func checkBadInputs(t *testing.T, c *client, cases []badInput, details map[string]string) {
	t.Helper()
	for name := range details {
		if !slices.ContainsFunc(cases, func(tc badInput) bool { return tc.name == name }) {
			t.Fatalf("a detail for no case: %q", name)
		}
	}
	state := func() string {
		_, conns := c.do("GET", "/connection?size=100", nil)
		_, hooks := c.do("GET", "/dsr/webhook/pre_approval?size=100", nil)
		return string(conns) + string(hooks)
	}
	before := state()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, raw := c.do(tc.method, tc.path, tc.body)
			detail, ok := details[tc.name]
			if status != tc.status || ok && detailOf(t, raw) != detail {
				t.Fatalf("%d %s, want %d %s", status, raw, tc.status, detail)
			}
			if after := state(); after != before {
				t.Fatalf("state changed:\n%s\n%s", before, after)
			}
		})
	}
}

// TestBadURLsWithTheGuardOn: with ALLOW_INSECURE_WEBHOOK_URLS=false, saving
// secrets whose url is http://, or whose host is or resolves to a loopback,
// private, link-local (metadata) or mapped address, is a 422 naming the rule
// and leaves the stored secrets as they were.
func TestBadURLsWithTheGuardOn(t *testing.T) {
	one := func(a ...string) [][]netip.Addr {
		set := []netip.Addr{}
		for _, s := range a {
			set = append(set, netip.MustParseAddr(s))
		}
		return [][]netip.Addr{set}
	}
	dns := dnstest.New(map[string][][]netip.Addr{
		"public.guard.test.":   one("93.184.216.34"),
		"private.guard.test.":  one("10.0.0.1"),
		"loopback.guard.test.": one("::1"),
		"mixed.guard.test.":    one("93.184.216.34", "192.168.1.1"),
	})
	root, err := local.Root()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys, err := local.Start(ctx, local.Options{Root: root, Addr: "127.0.0.1:0", Endpoint: os.Getenv("AWS_ENDPOINT_URL"), Resolver: dns.Resolver(),
		Env: map[string]string{"ALLOW_INSECURE_WEBHOOK_URLS": "false"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Stop)
	c := adminOf(t, sys)

	// A public https url is saved: the refusals below are the guard's.
	conn := unique("guard")
	c.must(200, "PATCH", "/connection", []map[string]any{{"key": conn, "name": "Conn " + conn, "connection_type": "https", "access": "read"}}, nil)
	c.must(200, "PUT", "/connection/"+conn+"/secret", map[string]any{"url": "https://public.guard.test/hook", "authorization": "Bearer x"}, nil)
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []map[string]any{{"key": "guarded", "name": "Guarded", "connection_config_key": conn}}, nil)

	urlError := func(msg string) string {
		return `[{"loc":["body","url"],"msg":"` + msg + `","type":"value_error.url"}]`
	}
	var cases []badInput
	details := map[string]string{}
	for _, tc := range []struct{ url, msg string }{
		{"https://10.0.0.1/", "url host is not a public address"},
		{"https://127.0.0.1/", "url host is not a public address"},
		{"https://[::1]/", "url host is not a public address"},
		{"https://169.254.169.254/latest/meta-data", "url host is not a public address"},
		{"https://[::ffff:127.0.0.1]/", "url host is not a public address"},
		{"https://100.64.0.1/", "url host is not a public address"},
		{"https://0.0.0.0/", "url host is not a public address"},
		{"https://private.guard.test/hook", "url host resolves to a non-public address"},
		{"https://loopback.guard.test/hook", "url host resolves to a non-public address"},
		{"https://mixed.guard.test/hook", "url host resolves to a non-public address"},
		{"https://unknown.guard.test/hook", "url host could not be resolved"},
		{"http://public.guard.test/hook", "url must use https"},
	} {
		cases = append(cases,
			badInput{"PUT " + tc.url, "PUT", "/connection/" + conn + "/secret", map[string]any{"url": tc.url, "authorization": "Bearer y"}, 422},
			badInput{"PATCH " + tc.url, "PATCH", "/connection/" + conn + "/secret", map[string]any{"url": tc.url}, 422})
		details["PUT "+tc.url], details["PATCH "+tc.url] = urlError(tc.msg), urlError(tc.msg)
	}
	checkBadInputs(t, c, cases, details)
	// The stored secrets are the public ones still, as the dispatcher sees them.
	target := uncachedTargets(c).DeliveryTargets(context.Background(), []string{"guarded"})["guarded"]
	if target.Err != nil || target.Target.URL != "https://public.guard.test/hook" || target.Target.Authorization != "Bearer x" {
		t.Fatalf("stored secrets after the refusals: url %q, %v", target.Target.URL, target.Err)
	}
}
