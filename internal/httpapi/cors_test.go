package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func corsAPI() *API {
	ok := func(context.Context, *Request) (Response, error) { return OK(nil) }
	refuse := func(context.Context, *Request) (Response, error) { return Response{}, BadRequest("no") }
	a := New(slog.New(slog.NewTextHandler(io.Discard, nil)), "", []Route{
		{Key: SubmitRouteKey, Handle: ok},
		{Key: VerifyRouteKey, Handle: refuse},
		{Key: "GET /api/v1/health", Handle: ok},
	})
	a.AllowCORS([]string{"https://privacy.example.com"}, SubmitRouteKey, VerifyRouteKey)
	return a
}

func call(t *testing.T, a *API, routeKey, origin string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ev := events.APIGatewayV2HTTPRequest{RouteKey: routeKey, Headers: map[string]string{}}
	if origin != "" {
		ev.Headers["origin"] = origin
	}
	out, err := a.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCORSPreflight(t *testing.T) {
	a := corsAPI()
	out := call(t, a, "OPTIONS /api/v1/privacy-request", "https://Privacy.Example.com")
	h := out.Headers
	if out.StatusCode != http.StatusNoContent || out.Body != "" || h["Access-Control-Allow-Origin"] != "https://Privacy.Example.com" ||
		h["Access-Control-Allow-Methods"] != "POST" || h["Access-Control-Allow-Headers"] != "Content-Type" || h["Vary"] != "Origin" || h["Allow"] != "" {
		t.Errorf("allowed origin's preflight: %d %v %q", out.StatusCode, h, out.Body)
	}
	out = call(t, a, "OPTIONS /api/v1/privacy-request/{id}/verify", "https://evil.example")
	if out.StatusCode != http.StatusNoContent || out.Headers["Access-Control-Allow-Origin"] != "" || out.Headers["Access-Control-Allow-Methods"] != "" {
		t.Errorf("other origin's preflight: %d %v", out.StatusCode, out.Headers)
	}
}

func TestCORSHeadersOnTheRoutesAnswers(t *testing.T) {
	a := corsAPI()
	for _, tc := range []struct {
		route, origin, want string
		status              int
	}{
		{SubmitRouteKey, "https://privacy.example.com", "https://privacy.example.com", 200},
		{VerifyRouteKey, "https://privacy.example.com", "https://privacy.example.com", 400}, // errors too: the page reads them
		{SubmitRouteKey, "https://evil.example", "", 200},
		{SubmitRouteKey, "", "", 200},
	} {
		out := call(t, a, tc.route, tc.origin)
		if out.StatusCode != tc.status || out.Headers["Access-Control-Allow-Origin"] != tc.want || out.Headers["Vary"] != "Origin" {
			t.Errorf("%s from %q: %d %v", tc.route, tc.origin, out.StatusCode, out.Headers)
		}
	}
	out := call(t, a, "GET /api/v1/health", "https://privacy.example.com")
	if _, set := out.Headers["Access-Control-Allow-Origin"]; set {
		t.Errorf("a route outside the CORS set got %v", out.Headers)
	}
}

func TestCORSWithNoOriginsAllowsNone(t *testing.T) {
	a := New(slog.New(slog.NewTextHandler(io.Discard, nil)), "", []Route{{Key: SubmitRouteKey, Handle: func(context.Context, *Request) (Response, error) { return OK(nil) }}})
	a.AllowCORS(nil, SubmitRouteKey)
	for _, key := range []string{SubmitRouteKey, "OPTIONS /api/v1/privacy-request"} {
		if out := call(t, a, key, "https://privacy.example.com"); out.Headers["Access-Control-Allow-Origin"] != "" {
			t.Errorf("%s: %v", key, out.Headers)
		}
	}
}
