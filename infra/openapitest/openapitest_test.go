package openapitest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pregate/pregate/infra/openapitest"
)

func exchange(method, path string, status int, body string, header http.Header) (*http.Request, *http.Response) {
	req := httptest.NewRequest(method, "http://127.0.0.1:3000"+path, nil)
	if header == nil {
		header = http.Header{}
	}
	header.Set("Content-Type", "application/json")
	return req, &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(strings.NewReader(body)), Request: req}
}

func TestCheck(t *testing.T) {
	bearer := http.Header{"Www-Authenticate": {"Bearer"}}
	cases := []struct {
		name         string
		method, path string
		status       int
		body         string
		header       http.Header
		wantErr      string
	}{
		{"health", "GET", "/api/v1/health", 200, `{"status":"ok","versions":{"go":"go1.26"}}`, nil, ""},
		{"health with an undocumented field", "GET", "/api/v1/health", 200, `{"status":"ok","versions":{"go":"x"},"extra":1}`, nil, "does not match"},
		{"undeclared status", "GET", "/api/v1/health", 418, `{"detail":"teapot"}`, nil, "does not match"},
		{"error body of the wrong shape", "GET", "/api/v1/connection/k", 404, `{"error":"nope"}`, nil, "does not match"},
		{"timestamp that is no date", "GET", "/api/v1/privacy-request/pri_x/activity", 200, `{"items":[{"at":"2026-13-45T00:00:00.000000Z","action":"approved","message":null,"webhook_key":null,"actor":null}]}`, nil, "does not match"},
		{"not found", "GET", "/api/v1/connection/k", 404, `{"detail":"No connection config found with key k"}`, nil, ""},
		{"401 with its header", "GET", "/api/v1/connection", 401, `{"detail":"Failed to authenticate"}`, bearer, ""},
		{"401 without WWW-Authenticate", "GET", "/api/v1/connection", 401, `{"detail":"Failed to authenticate"}`, nil, "does not match"},
		{"validation error", "PATCH", "/api/v1/connection", 422, `{"detail":[{"loc":["body",0,"name"],"msg":"field required","type":"value_error.missing"}]}`, nil, ""},
		{"reply null", "POST", "/api/v1/privacy-request/pri_x/pre-approve/eligible", 200, `null`, nil, ""},
		{"reply not null", "POST", "/api/v1/privacy-request/pri_x/pre-approve/eligible", 200, `{}`, nil, "does not match"},
		{"token refused, client credentials", "POST", "/api/v1/oauth/token", 401, `{"detail":"Invalid client credentials"}`, nil, ""},
		{"token refused, code grant of another client", "POST", "/api/v1/oauth/token", 401, `{"error":"invalid_client","detail":"The authorization code is invalid, expired or already used, or the code_verifier does not match."}`, nil, ""},
		{"token refused, spent code", "POST", "/api/v1/oauth/token", 400, `{"error":"invalid_grant","detail":"The authorization code is invalid, expired or already used, or the code_verifier does not match."}`, nil, ""},
		{"token refused with an unknown OAuth error", "POST", "/api/v1/oauth/token", 400, `{"error":"server_error","detail":"x"}`, nil, "does not match"},
		{"unknown route 404", "GET", "/api/v1/nothing-here", 404, `{"detail":"Not Found"}`, nil, ""},
		{"wrong method 405", "DELETE", "/api/v1/health", 405, `{"detail":"Method Not Allowed"}`, nil, ""},
		{"unknown route answered 200", "GET", "/api/v1/nothing-here", 200, `{}`, nil, "is not in docs/openapi.yaml"},
		{"outside the API", "GET", "/hook", 500, `oops`, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, resp := exchange(c.method, c.path, c.status, c.body, c.header)
			err := openapitest.Check(req, resp)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("unexpected: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("got %v, want an error with %q", err, c.wantErr)
			}
			// The caller still reads the whole body.
			if raw, _ := io.ReadAll(resp.Body); string(raw) != c.body {
				t.Fatalf("body after Check: %q", raw)
			}
		})
	}
}
