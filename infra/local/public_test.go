package local_test

import (
	"strings"
	"testing"
)

// TestPublicRouteAnswers: the public routes' refusals, each in the shape the
// OpenAPI document declares (the client validates every answer).
func TestPublicRouteAnswers(t *testing.T) {
	c := &client{t: t, sys: system(t)}
	var sub struct {
		Succeeded []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"succeeded"`
	}
	c.must(200, "POST", "/privacy-request", []map[string]any{{"identity": map[string]string{"email": "pub@example.com"}, "policy_key": "default_access_policy"}}, &sub)
	if len(sub.Succeeded) != 1 || sub.Succeeded[0].Status == "identity_unverified" {
		t.Fatalf("submission: %+v", sub)
	}
	id := sub.Succeeded[0].ID
	cases := []struct {
		name, path string
		body       any
		status     int
	}{
		{"submit: malformed json", "/privacy-request", `[{"identity":`, 400},
		{"submit: empty list", "/privacy-request", `[]`, 422},
		{"submit: over 1 MiB", "/privacy-request", `["` + strings.Repeat("x", 1<<20) + `"]`, 413},
		{"verify: no code", "/privacy-request/" + id + "/verify", `{}`, 422},
		{"verify: unknown request", "/privacy-request/pri_00000000-0000-4000-8000-000000000000/verify", map[string]string{"code": "123456"}, 404},
		{"verify: not awaiting verification", "/privacy-request/" + id + "/verify", map[string]string{"code": "123456"}, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &client{t: t, sys: c.sys}
			if status, raw := c.do("POST", tc.path, tc.body); status != tc.status {
				t.Fatalf("%d %s, want %d", status, raw, tc.status)
			}
		})
	}
}
