package local_test

import (
	"bytes"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pregate/pregate/infra/openapitest"
	"github.com/pregate/pregate/internal/localauth"
)

// adminScopes is the scope each authorized route of the
// template requires.
var adminScopes = map[string]string{
	"GET /api/v1/connection":                                        "connection:read",
	"PATCH /api/v1/connection":                                      "connection:create_or_update",
	"GET /api/v1/connection/{key}":                                  "connection:read",
	"DELETE /api/v1/connection/{key}":                               "connection:delete",
	"PUT /api/v1/connection/{key}/secret":                           "connection:create_or_update",
	"PATCH /api/v1/connection/{key}/secret":                         "connection:create_or_update",
	"GET /api/v1/dsr/webhook/pre_approval":                          "webhook:read",
	"PUT /api/v1/dsr/webhook/pre_approval":                          "webhook:create_or_update",
	"GET /api/v1/dsr/webhook/pre_approval/{key}":                    "webhook:read",
	"PATCH /api/v1/dsr/webhook/pre_approval/{key}":                  "webhook:create_or_update",
	"DELETE /api/v1/dsr/webhook/pre_approval/{key}":                 "webhook:delete",
	"POST /api/v1/dsr/webhook/pre_approval/{key}/rotate-secret":     "webhook:create_or_update",
	"POST /api/v1/dsr/webhook/pre_approval":                         "webhook:create_or_update",
	"GET /api/v1/privacy-request":                                   "privacy-request:read",
	"GET /api/v1/privacy-request/{id}":                              "privacy-request:read",
	"GET /api/v1/privacy-request/{id}/activity":                     "privacy-request:read",
	"PATCH /api/v1/privacy-request/administrate/approve":            "privacy-request:review",
	"PATCH /api/v1/privacy-request/administrate/deny":               "privacy-request:review",
	"PATCH /api/v1/privacy-request/administrate/retry-pre-approval": "privacy-request:review",
	"PATCH /api/v1/privacy-request/administrate/extend":             "privacy-request:review",
	"GET /api/v1/privacy-request/export":                            "privacy-request:read",
	"GET /api/v1/privacy-request/{id}/evidence":                     "privacy-request:read",
	"POST /api/v1/privacy-request/{id}/reveal":                      "privacy-request:read",
	"GET /api/v1/dsr/webhook/pre_approval/{key}/deliveries":         "webhook:read",
	"GET /api/v1/dsr/webhook/pre_approval/{key}/health":             "webhook:read",
	"POST /api/v1/dsr/webhook/pre_approval/{key}/test":              "webhook:create_or_update",
	"GET /api/v1/dsr/webhook/pre_approval/{key}/test/{test_id}":     "webhook:read",
	"GET /api/v1/dsr/policy":                                        "policy:read",
	"PATCH /api/v1/dsr/policy":                                      "policy:create_or_update",
	"GET /api/v1/audit/access":                                      "audit:read",
}

// TestAdminRoutesRequireAToken checks the token and scope texts for every authorized route of
// the template × {no header, non-Bearer, garbage, expired, other key,
// without the route's scope, good token}.
func TestAdminRoutesRequireAToken(t *testing.T) {
	sys := system(t)
	routes, err := sys.Stack.Template.Routes()
	if err != nil {
		t.Fatal(err)
	}
	good, _ := sys.Auth.Mint("local-admin", localauth.Scopes, time.Hour)
	expired, _ := sys.Auth.Mint("local-admin", localauth.Scopes, -time.Minute)
	stranger, _ := localauth.New(localauth.Client{ID: "local-admin", Secret: "x"}, time.Now)
	foreign, _ := stranger.Mint("local-admin", localauth.Scopes, time.Hour)

	type tc struct {
		name, header string
		status       int
		body         string
	}
	unchecked := maps.Clone(adminScopes) // scopes no template route used
	for _, r := range routes {
		if !r.Authorized {
			continue
		}
		scope, ok := adminScopes[r.Key()]
		if !ok {
			t.Errorf("authorized route %s has no scope in the table", r.Key())
			continue
		}
		delete(unchecked, r.Key())
		// Every scope but the route's own.
		others := slices.DeleteFunc(slices.Clone(localauth.Scopes), func(s string) bool { return s == scope })
		if len(others) != len(localauth.Scopes)-1 {
			t.Fatalf("%s: scope %q is not one the local issuer grants", r.Key(), scope)
		}
		noScope, _ := sys.Auth.Mint("local-admin", others, time.Hour)
		path := strings.NewReplacer("{key}", "k_missing", "{id}", "pri_missing").Replace(r.Path)
		for _, c := range []tc{
			{"no header", "", 401, `{"detail":"Failed to authenticate"}`},
			{"not bearer", "Basic bG9jYWwtYWRtaW46eA==", 401, `{"detail":"Failed to authenticate"}`},
			{"garbage", "Bearer garbage", 403, `{"detail":"Not Authorized for this action"}`},
			{"expired", "Bearer " + expired, 403, `{"detail":"Not Authorized for this action"}`},
			{"other key", "Bearer " + foreign, 403, `{"detail":"Not Authorized for this action"}`},
			{"without scope", "Bearer " + noScope, 403, `{"detail":"Not Authorized for this action. Required scope(s): [` + scope + `]"}`},
		} {
			t.Run(r.Key()+"/"+c.name, func(t *testing.T) {
				status, body, hdr := call(t, r.Method, sys.URL+path, c.header)
				if status != c.status || string(bytes.TrimSpace(body)) != c.body {
					t.Fatalf("%d %s, want %d %s", status, body, c.status, c.body)
				}
				if status == 401 && hdr.Get("WWW-Authenticate") != "Bearer" {
					t.Fatalf("WWW-Authenticate = %q", hdr.Get("WWW-Authenticate"))
				}
			})
		}
		t.Run(r.Key()+"/good token", func(t *testing.T) {
			status, body, _ := call(t, r.Method, sys.URL+path, "Bearer "+good)
			if status == 401 || status == 403 {
				t.Fatalf("good token refused: %d %s", status, body)
			}
		})
	}
	if len(unchecked) != 0 {
		t.Fatalf("routes not authorized in the template: %v", unchecked)
	}
}

func call(t *testing.T, method, url, authorization string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := openapitest.Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf strings.Builder
	_, _ = io.Copy(&buf, resp.Body)
	return resp.StatusCode, []byte(buf.String()), resp.Header
}

func TestTokenEndpoint(t *testing.T) {
	sys := system(t)
	for _, c := range []struct {
		name, contentType, body string
		want                    int
	}{
		{"form", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=local-admin&client_secret=local-admin-secret", 200},
		{"json", "application/json", `{"grant_type":"client_credentials","client_id":"local-admin","client_secret":"local-admin-secret"}`, 200},
		{"wrong secret", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=local-admin&client_secret=wrong", 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := openapitest.Client(t).Post(sys.URL+"/api/v1/oauth/token", c.contentType, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("%d, want %d", resp.StatusCode, c.want)
			}
		})
	}
	if !strings.Contains(sys.Describe(), "client_id=local-admin client_secret=local-admin-secret") {
		t.Fatalf("banner without the root client:\n%s", sys.Describe())
	}
}
