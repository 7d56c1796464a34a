// Package httpapi turns API Gateway HTTP API (v2) events into calls of the
// domain and back: decode, authorise, call, encode. Every route key in
// template.yaml is served here; the same API value runs in Lambda and in the
// local gateway.
package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/logkey"
)

// MaxBodyBytes is the largest request body accepted (over 1 MiB is 413).
const MaxBodyBytes = 1 << 20

// Request is what a handler sees: the event plus the decoded parts it needs.
type Request struct {
	Event  *events.APIGatewayV2HTTPRequest
	Body   []byte
	Caller Caller // set on routes with a scope
}

// Path returns a path parameter.
func (r *Request) Path(name string) string { return r.Event.PathParameters[name] }

// Query returns a query string parameter ("" when absent).
func (r *Request) Query(name string) string { return r.Event.QueryStringParameters[name] }

// Header returns a header by case-insensitive name.
func (r *Request) Header(name string) string {
	for k, v := range r.Event.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Response is a handler's answer; Body is encoded as JSON (nil encodes as null).
type Response struct {
	Status  int
	Body    any
	Headers map[string]string
	// NoBody sends an empty body (204).
	NoBody bool
	// Raw, when set, is sent as the body as it is, with the Content-Type
	// given in Headers (the console's static assets).
	Raw []byte
}

// HandlerFunc serves one route.
type HandlerFunc func(ctx context.Context, r *Request) (Response, error)

// Route binds an API Gateway route key ("GET /api/v1/connection/{key}") to a
// handler. Scope, when set, is the admin scope the caller's token must hold.
type Route struct {
	Key    string
	Scope  string
	Handle HandlerFunc
}

// API serves a set of routes.
type API struct {
	routes map[string]Route
	log    *slog.Logger
	now    func() time.Time
	// scopePrefix is stripped from token scopes (Cognito's "pregate/").
	scopePrefix string
	// cors is set by AllowCORS.
	cors *cors
}

// New builds an API from route groups.
func New(log *slog.Logger, scopePrefix string, groups ...[]Route) *API {
	a := &API{routes: map[string]Route{}, log: log, now: time.Now, scopePrefix: scopePrefix}
	for _, g := range groups {
		for _, r := range g {
			if _, dup := a.routes[r.Key]; dup {
				panic("httpapi: route registered twice: " + r.Key)
			}
			a.routes[r.Key] = r
		}
	}
	return a
}

// RouteKeys lists the routes served (for the test that holds them against template.yaml).
func (a *API) RouteKeys() []string {
	keys := make([]string, 0, len(a.routes))
	for k := range a.routes {
		keys = append(keys, k)
	}
	return keys
}

// Scope returns the scope a route requires ("" for public routes).
func (a *API) Scope(routeKey string) string { return a.routes[routeKey].Scope }

// Handle is the Lambda handler.
func (a *API) Handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	start := a.now()
	resp := a.serve(ctx, &ev)
	out := encode(resp)
	a.cors.decorate(ev.RouteKey, (&Request{Event: &ev}).Header("Origin"), out.Headers)
	// The HTTP API's access log has a line for every request (route, status,
	// latencies, and this invocation's aws_request_id): ours repeats it only
	// for a refusal or a fault, whose cause the lines around it give.
	level := slog.LevelDebug
	if out.StatusCode >= http.StatusBadRequest {
		level = slog.LevelInfo
	}
	a.log.Log(ctx, level, "request",
		"route", ev.RouteKey, logkey.StatusCode, out.StatusCode,
		logkey.APIRequestID, ev.RequestContext.RequestID,
		"duration_ms", float64(a.now().Sub(start).Microseconds())/1000)
	return out, nil
}

func (a *API) serve(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) Response {
	route, ok := a.routes[ev.RouteKey]
	if !ok {
		return detail(http.StatusNotFound, "Not Found")
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return detail(http.StatusBadRequest, "Request body is not valid base64")
		}
		body = decoded
	}
	if len(body) > MaxBodyBytes {
		return detail(http.StatusRequestEntityTooLarge, "Request body exceeds 1 MiB")
	}
	req := &Request{Event: ev, Body: body}
	if route.Scope != "" {
		caller, err := a.authorize(ev, route.Scope)
		if err != nil {
			return a.fromError(ctx, ev.RouteKey, err)
		}
		req.Caller = caller
	}
	resp, err := route.Handle(ctx, req)
	if err != nil {
		return a.fromError(ctx, ev.RouteKey, err)
	}
	return resp
}

func encode(r Response) events.APIGatewayV2HTTPResponse {
	headers := map[string]string{}
	for k, v := range r.Headers {
		headers[k] = v
	}
	if r.NoBody {
		return events.APIGatewayV2HTTPResponse{StatusCode: r.Status, Headers: headers}
	}
	if r.Raw != nil {
		return events.APIGatewayV2HTTPResponse{StatusCode: r.Status, Headers: headers, Body: string(r.Raw)}
	}
	raw, err := json.Marshal(r.Body)
	if err != nil {
		raw = []byte(`{"detail":"Internal Server Error"}`)
		r.Status = http.StatusInternalServerError
	}
	headers["Content-Type"] = "application/json"
	return events.APIGatewayV2HTTPResponse{StatusCode: r.Status, Headers: headers, Body: string(raw)}
}

// OK is a 200 with a JSON body.
func OK(body any) (Response, error) { return Response{Status: http.StatusOK, Body: body}, nil }

func detail(status int, msg string) Response {
	return Response{Status: status, Body: map[string]string{"detail": msg}}
}

// ErrorResponse maps an error to its response; exported for the local gateway's own routes.
func (a *API) ErrorResponse(ctx context.Context, err error) events.APIGatewayV2HTTPResponse {
	return encode(a.fromError(ctx, "", err))
}
