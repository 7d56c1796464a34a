package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/httpapi"
)

type fakeAuthorizer struct{}

func (fakeAuthorizer) Authorize(_ context.Context, token string) (map[string]string, error) {
	if token == "good" {
		return map[string]string{"client_id": "admin", "scope": "connection:read"}, nil
	}
	return nil, errors.New("bad token")
}

// echo answers with the event it received, so tests can see what the gateway built.
func echo(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	raw, _ := json.Marshal(ev)
	return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: string(raw), Headers: map[string]string{"Content-Type": "application/json"}}, nil
}

func newGateway(t *testing.T) *Gateway {
	t.Helper()
	routes := []stack.Route{
		{Method: "GET", Path: "/api/v1/privacy-request/{id}", Function: "Admin", Authorized: true},
		{Method: "PATCH", Path: "/api/v1/privacy-request/administrate/approve", Function: "Admin", Authorized: true},
		{Method: "GET", Path: "/api/v1/privacy-request/{id}/activity", Function: "Admin", Authorized: true},
		{Method: "POST", Path: "/api/v1/privacy-request/{id}/verify", Function: "Public"},
		{Method: "GET", Path: "/admin", Function: "Admin"},
		{Method: "GET", Path: "/admin/{proxy+}", Function: "Admin"},
	}
	g, err := New(routes, map[string]LambdaHandler{"Admin": echo, "Public": echo}, fakeAuthorizer{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func do(t *testing.T, g *Gateway, method, target, auth, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out, rec.Header()
}

func TestRouting(t *testing.T) {
	g := newGateway(t)
	cases := []struct {
		name, method, target, auth string
		status                     int
		routeKey                   string
	}{
		{"param route", "GET", "/api/v1/privacy-request/pri_1?size=5", "Bearer good", 200, "GET /api/v1/privacy-request/{id}"},
		{"literal wins", "PATCH", "/api/v1/privacy-request/administrate/approve", "Bearer good", 200, "PATCH /api/v1/privacy-request/administrate/approve"},
		{"public route needs no token", "POST", "/api/v1/privacy-request/pri_1/verify", "", 200, "POST /api/v1/privacy-request/{id}/verify"},
		{"unknown path", "GET", "/api/v1/nothing", "", 404, ""},
		{"known path, wrong method", "DELETE", "/api/v1/privacy-request/pri_1", "Bearer good", 405, ""},
		{"no header", "GET", "/api/v1/privacy-request/pri_1", "", 401, ""},
		{"not bearer", "GET", "/api/v1/privacy-request/pri_1", "Basic abc", 401, ""},
		{"bad token", "GET", "/api/v1/privacy-request/pri_1", "Bearer nope", 403, ""},
		{"trailing slash", "GET", "/admin/", "", 200, "GET /admin"},
		{"greedy one segment", "GET", "/admin/webhooks", "", 200, "GET /admin/{proxy+}"},
		{"greedy many segments", "GET", "/admin/assets/v1/js/main.js", "", 200, "GET /admin/{proxy+}"},
		{"greedy, wrong method", "POST", "/admin/assets/v1/js/main.js", "", 405, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body, hdr := do(t, g, c.method, c.target, c.auth, "")
			if status != c.status {
				t.Fatalf("status %d, want %d (%v)", status, c.status, body)
			}
			if c.routeKey != "" && body["routeKey"] != c.routeKey {
				t.Errorf("routeKey %v, want %s", body["routeKey"], c.routeKey)
			}
			switch status {
			case 401:
				if body["detail"] != "Failed to authenticate" || hdr.Get("WWW-Authenticate") != "Bearer" {
					t.Errorf("401 body %v, WWW-Authenticate %q", body, hdr.Get("WWW-Authenticate"))
				}
			case 403:
				if body["detail"] != "Not Authorized for this action" {
					t.Errorf("403 body %v", body)
				}
			}
		})
	}
}

func TestEventCarriesParamsQueryClaimsAndBody(t *testing.T) {
	g := newGateway(t)
	_, body, _ := do(t, g, "GET", "/api/v1/privacy-request/pri_9?status=pending&size=2", "Bearer good", `{"a":1}`)
	raw, _ := json.Marshal(body)
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.PathParameters["id"] != "pri_9" || ev.QueryStringParameters["status"] != "pending" || ev.Body != `{"a":1}` {
		t.Errorf("event: params %v query %v body %q", ev.PathParameters, ev.QueryStringParameters, ev.Body)
	}
	if ev.RequestContext.Authorizer == nil || ev.RequestContext.Authorizer.JWT.Claims["client_id"] != "admin" {
		t.Errorf("claims not passed: %+v", ev.RequestContext.Authorizer)
	}
	if ev.Headers["authorization"] != "Bearer good" {
		t.Errorf("headers not lower-cased and passed: %v", ev.Headers)
	}
}

func TestGreedyParameterTakesTheRestOfThePath(t *testing.T) {
	g := newGateway(t)
	_, body, _ := do(t, g, "GET", "/admin/assets/v1/js/pages/requests.js", "", "")
	params, _ := body["pathParameters"].(map[string]any)
	if params["proxy"] != "assets/v1/js/pages/requests.js" {
		t.Errorf("pathParameters %v", body["pathParameters"])
	}
}

func TestNewRefusesRouteWithoutHandler(t *testing.T) {
	_, err := New([]stack.Route{{Method: "GET", Path: "/x", Function: "Missing"}}, map[string]LambdaHandler{}, nil, slog.Default())
	if err == nil {
		t.Fatal("want an error for a route whose function has no handler")
	}
}

// TestCORSThroughTheGateway: the template's OPTIONS routes reach the public
// API, which answers the preflight and names an allowed origin on the POST
// route's answers, as behind API Gateway.
func TestCORSThroughTheGateway(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := stack.FindRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := stack.LoadTemplate(root + "/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	all, err := tmpl.Routes()
	if err != nil {
		t.Fatal(err)
	}
	var routes []stack.Route
	for _, r := range all {
		if r.Function == "PublicApiFunction" {
			routes = append(routes, r)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Use cases are never reached: a preflight has no use case, and the POST bodies below are refused first.
	api := httpapi.New(log, "", httpapi.PublicRequestRoutes(nil))
	api.AllowCORS([]string{"https://privacy.example.com"}, httpapi.SubmitRouteKey, httpapi.VerifyRouteKey)
	g, err := New(routes, map[string]LambdaHandler{"PublicApiFunction": api.Handle}, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	send := func(method, target, origin string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, strings.NewReader(`[{"identity":`))
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		return rec
	}
	for _, path := range []string{"/api/v1/privacy-request", "/api/v1/privacy-request/pri_1/verify"} {
		pre := send("OPTIONS", path, "https://privacy.example.com")
		if pre.Code != 204 || pre.Header().Get("Access-Control-Allow-Origin") != "https://privacy.example.com" || pre.Header().Get("Access-Control-Allow-Methods") != "POST" {
			t.Errorf("preflight of %s: %d %v", path, pre.Code, pre.Header())
		}
		if other := send("OPTIONS", path, "https://elsewhere.example"); other.Code != 204 || other.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight of %s from another origin: %d %v", path, other.Code, other.Header())
		}
		post := send("POST", path, "https://privacy.example.com")
		if post.Code != 400 || post.Header().Get("Access-Control-Allow-Origin") != "https://privacy.example.com" {
			t.Errorf("POST %s: %d %v", path, post.Code, post.Header())
		}
	}
}

// TestMethodNotAllowedNamesAllowedMethods: every 405 carries Allow, for the
// template's routes and the local-only ones alike; an unknown path stays 404.
func TestMethodNotAllowedNamesAllowedMethods(t *testing.T) {
	g := newGateway(t)
	g.HandleLocal("POST", "/api/v1/oauth/token", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	cases := []struct{ method, target, allow string }{
		{"DELETE", "/api/v1/privacy-request/pri_1", "GET"},
		{"TRACE", "/api/v1/privacy-request/pri_1/verify", "POST"},
		{"GET", "/api/v1/oauth/token", "POST"},
		{"OPTIONS", "/api/v1/oauth/token", "POST"},
	}
	for _, c := range cases {
		status, body, hdr := do(t, g, c.method, c.target, "Bearer good", "")
		if status != 405 || hdr.Get("Allow") != c.allow || body["detail"] != "Method Not Allowed" {
			t.Errorf("%s %s: %d Allow %q %v, want 405 Allow %q", c.method, c.target, status, hdr.Get("Allow"), body, c.allow)
		}
	}
	if status, _, hdr := do(t, g, "TRACE", "/api/v1/nothing", "", ""); status != 404 || hdr.Get("Allow") != "" {
		t.Errorf("unknown path: %d Allow %q, want 404 without Allow", status, hdr.Get("Allow"))
	}
}
