package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/httpapi"
)

// TestScopePrefix: Cognito names resource-server scopes "<identifier>/<scope>"
// (template.yaml sets SCOPE_PREFIX=pregate/); the route's scope is matched
// after the prefix is stripped, and any other scope, prefixed or not, is a
// 403 naming the scope the route needs.
func TestScopePrefix(t *testing.T) {
	const key = "GET /api/v1/connection"
	api := httpapi.New(slog.New(slog.NewJSONHandler(io.Discard, nil)), "pregate/", []httpapi.Route{{
		Key:   key,
		Scope: "connection:read",
		Handle: func(_ context.Context, r *httpapi.Request) (httpapi.Response, error) {
			return httpapi.OK(r.Caller.ClientID)
		},
	}})
	const refused = `{"detail":"Not Authorized for this action. Required scope(s): [connection:read]"}`
	for _, c := range []struct {
		scope, body string
		status      int
	}{
		{"pregate/connection:read", `"client-1"`, 200},
		{"pregate/webhook:read pregate/connection:read", `"client-1"`, 200},
		{"pregate/connection:delete", refused, 403},
		{"pregate/webhook:read", refused, 403},
		{"webhook:read", refused, 403},
		{"other/connection:read", refused, 403},
		{"pregate/connection:read:extra", refused, 403},
		{"pregate/pregate/connection:read", refused, 403},
		{"", refused, 403},
	} {
		t.Run(c.scope, func(t *testing.T) {
			ev := events.APIGatewayV2HTTPRequest{RouteKey: key}
			ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"client_id": "client-1", "scope": c.scope}},
			}
			out, err := api.Handle(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if out.StatusCode != c.status || out.Body != c.body {
				t.Fatalf("scope %q: %d %s, want %d %s", c.scope, out.StatusCode, out.Body, c.status, c.body)
			}
		})
	}
}

// A user's token (the console's: authorization code) names the user, not
// the console's app client; a client-credentials token names its client.
func TestCallerIsTheUserWhenThereIsOne(t *testing.T) {
	const key = "GET /api/v1/connection"
	api := httpapi.New(slog.New(slog.NewJSONHandler(io.Discard, nil)), "pregate/", []httpapi.Route{{
		Key: key, Scope: "connection:read",
		Handle: func(_ context.Context, r *httpapi.Request) (httpapi.Response, error) {
			return httpapi.OK(r.Caller.ClientID)
		},
	}})
	for claims, want := range map[[2]string]string{
		{"console-client", "ada"}: `"ada"`,
		{"root-client", ""}:       `"root-client"`,
	} {
		ev := events.APIGatewayV2HTTPRequest{RouteKey: key}
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{
				"client_id": claims[0], "username": claims[1], "scope": "pregate/connection:read"}},
		}
		out, err := api.Handle(context.Background(), ev)
		if err != nil || out.Body != want {
			t.Errorf("claims %v: %s %v, want %s", claims, out.Body, err, want)
		}
	}
}
