package local_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// maxLength is the 422 detail of a string one character over its limit.
func maxLength(limit string, loc ...any) string {
	raw, _ := json.Marshal(loc)
	return `[{"loc":` + string(raw) + `,"msg":"ensure this value has at most ` + limit + ` characters","type":"value_error.any_str.max_length"}]`
}

// TestOversizedAdminFields: every stored string of the connection and
// webhook routes one character over its limit gets a 422 naming the field,
// and the connections, secrets and webhooks read the same after.
func TestOversizedAdminFields(t *testing.T) {
	c := admin(t)
	conn := c.connection(unique("lim"))
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []map[string]any{{"key": "keep", "name": "Keep", "connection_config_key": conn}}, nil)
	t.Cleanup(func() { c.do("PUT", "/dsr/webhook/pre_approval", []any{}) })
	x := func(n int) string { return strings.Repeat("x", n) }
	connItem := func(field string, v any) []map[string]any {
		item := map[string]any{"key": "lim_new", "name": "New", "connection_type": "https", "access": "read"}
		item[field] = v
		return []map[string]any{item}
	}
	hookItem := func(field string, v any) []map[string]any {
		item := map[string]any{"key": "lim_hook", "name": "Hook", "connection_config_key": conn}
		item[field] = v
		return []map[string]any{item}
	}
	secret := "/connection/" + conn + "/secret"
	secrets := func(field string, v any) map[string]any {
		s := map[string]any{"url": "https://example.com/hook", "authorization": "Bearer x"}
		s[field] = v
		return s
	}
	headers := func(n int, name, value string) map[string]string {
		h := map[string]string{name: value}
		for i := 1; i < n; i++ {
			h["X-"+x(i)] = "v"
		}
		return h
	}
	cases := []badInput{
		{"connection: key", "PATCH", "/connection", connItem("key", x(101)), 422},
		{"connection: name", "PATCH", "/connection", connItem("name", x(201)), 422},
		{"connection: description", "PATCH", "/connection", connItem("description", x(2001)), 422},
		{"connection: get by oversized key", "GET", "/connection/" + x(5000), nil, 404},
		{"secret: url", "PUT", secret, secrets("url", "https://example.com/"+x(2048)), 422},
		{"secret: url (merge)", "PATCH", secret, map[string]any{"url": "https://example.com/" + x(2048)}, 422},
		{"secret: authorization", "PUT", secret, secrets("authorization", x(4097)), 422},
		{"secret: 21 headers", "PUT", secret, secrets("headers", headers(21, "X-A", "v")), 422},
		{"secret: header name", "PUT", secret, secrets("headers", headers(1, "X-"+x(99), "v")), 422},
		{"secret: header value", "PATCH", secret, map[string]any{"headers": headers(1, "X-A", x(1001))}, 422},
		{"webhooks: key", "PUT", "/dsr/webhook/pre_approval", hookItem("key", x(101)), 422},
		{"webhooks: name", "PUT", "/dsr/webhook/pre_approval", hookItem("name", x(201)), 422},
		{"webhooks: connection key", "PUT", "/dsr/webhook/pre_approval", hookItem("connection_config_key", x(101)), 422},
		{"webhook: patch name", "PATCH", "/dsr/webhook/pre_approval/keep", map[string]any{"name": x(201)}, 422},
		{"webhook: patch connection key", "PATCH", "/dsr/webhook/pre_approval/keep", map[string]any{"connection_config_key": x(101)}, 422},
	}
	checkBadInputs(t, c, cases, map[string]string{
		"connection: key":               maxLength("100", "body", 0, "key"),
		"connection: name":              maxLength("200", "body", 0, "name"),
		"connection: description":       maxLength("2000", "body", 0, "description"),
		"secret: url":                   maxLength("2048", "body", "url"),
		"secret: url (merge)":           maxLength("2048", "body", "url"),
		"secret: authorization":         maxLength("4096", "body", "authorization"),
		"secret: 21 headers":            `[{"loc":["body","headers"],"msg":"ensure this value has at most 20 items","type":"value_error.dict.max_items"}]`,
		"secret: header name":           maxLength("100", "body", "headers", "__key__"),
		"secret: header value":          maxLength("1000", "body", "headers", "X-A"),
		"webhooks: key":                 maxLength("100", "body", 0, "key"),
		"webhooks: name":                maxLength("200", "body", 0, "name"),
		"webhooks: connection key":      maxLength("100", "body", 0, "connection_config_key"),
		"webhook: patch name":           maxLength("200", "body", "name"),
		"webhook: patch connection key": maxLength("100", "body", "connection_config_key"),
	})
	// The secrets the dispatcher opens are still the ones saved first.
	got := deliveryTargetFor(t, c, conn)
	if got.URL != validatorURL || got.Authorization != "Bearer s3cr3t-"+conn || len(got.Headers) != 1 {
		t.Fatalf("stored secrets after the refusals: %q %d headers", got.URL, len(got.Headers))
	}
}

// TestOversizedRequestFields: a submission with a field over its limit is a
// 422 naming the field and creates no request; a denial with a reason over
// its limit is a 422 and leaves the request as it was.
func TestOversizedRequestFields(t *testing.T) {
	c := admin(t)
	pub := &client{t: t, sys: c.sys}
	newest := func() string {
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		c.must(200, "GET", "/privacy-request?size=1", nil, &page)
		if len(page.Items) == 0 {
			return ""
		}
		return page.Items[0].ID
	}
	x := func(n int) string { return strings.Repeat("x", n) }
	item := func(email, phone, policy, external string) []map[string]any {
		id := map[string]string{}
		if email != "" {
			id["email"] = email
		}
		if phone != "" {
			id["phone_number"] = phone
		}
		it := map[string]any{"identity": id, "policy_key": policy}
		if external != "" {
			it["external_id"] = external
		}
		return []map[string]any{it}
	}
	const policy = "default_access_policy"
	before := newest()
	for _, tc := range []struct {
		name   string
		body   any
		detail string
	}{
		{"email", item(x(243)+"@example.com", "", policy, ""), maxLength("254", "body", 0, "identity", "email")},
		{"phone", item("", "+1"+strings.Repeat("5", 15), policy, ""), maxLength("16", "body", 0, "identity", "phone_number")},
		{"external_id", item("a@example.com", "", policy, x(256)), maxLength("255", "body", 0, "external_id")},
		{"policy_key", item("a@example.com", "", x(101), ""), maxLength("100", "body", 0, "policy_key")},
	} {
		t.Run("submit: "+tc.name, func(t *testing.T) {
			pub := &client{t: t, sys: pub.sys}
			status, raw := pub.do("POST", "/privacy-request", tc.body)
			if status != 422 || detailOf(t, raw) != tc.detail {
				t.Fatalf("%d %s, want 422 %s", status, raw, tc.detail)
			}
			if got := newest(); got != before {
				t.Fatalf("a request was created: %s", got)
			}
		})
	}
	// At their limits, the same fields are taken.
	var sub struct {
		Succeeded []struct {
			ID string `json:"id"`
		} `json:"succeeded"`
	}
	full := item(x(242)+"@example.com", "+1"+strings.Repeat("5", 14), policy, x(255))
	pub.must(200, "POST", "/privacy-request", full, &sub)
	if len(sub.Succeeded) != 1 {
		t.Fatalf("at the limits: %+v", sub)
	}
	id := sub.Succeeded[0].ID

	t.Run("deny: reason", func(t *testing.T) {
		c := &client{t: t, sys: c.sys, token: c.token}
		_, was := c.do("GET", "/privacy-request/"+id+"/activity", nil)
		status, raw := c.do("PATCH", "/privacy-request/administrate/deny", map[string]any{"request_ids": []string{id}, "reason": x(1001)})
		if want := maxLength("1000", "body", "reason"); status != 422 || detailOf(t, raw) != want {
			t.Fatalf("%d %s, want 422 %s", status, raw, want)
		}
		if _, now := c.do("GET", "/privacy-request/"+id+"/activity", nil); string(now) != string(was) {
			t.Fatalf("timeline changed:\n%s\n%s", was, now)
		}
	})
}
