// Package gateway plays API Gateway's HTTP API locally: it matches a request
// against the routes read from template.yaml, runs the JWT authorizer step,
// builds the payload-format-2.0 event and calls the function's handler in
// process, exactly as Lambda would be called.
package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/httpapi"
	"github.com/pregate/pregate/internal/logkey"
)

// LambdaHandler is an HTTP API function's handler.
type LambdaHandler func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Authorizer validates a bearer token and returns its claims, as the HTTP
// API's JWT authorizer does (claims end up in requestContext.authorizer.jwt).
type Authorizer interface {
	Authorize(ctx context.Context, token string) (claims map[string]string, err error)
}

// maxBody mirrors our 1 MiB limit; one byte more is read so the handler can refuse it.
const maxBody = 1<<20 + 1

// Gateway is an http.Handler serving the template's routes.
type Gateway struct {
	routes     []compiledRoute
	handlers   map[string]LambdaHandler
	authorizer Authorizer
	local      map[string]http.Handler // "METHOD /path" -> local-only routes (token issuer, outbox)
	log        *slog.Logger
	seq        atomic.Uint64
}

type compiledRoute struct {
	stack.Route
	segments []string
}

// New checks that every route's function has a handler.
func New(routes []stack.Route, handlers map[string]LambdaHandler, authorizer Authorizer, log *slog.Logger) (*Gateway, error) {
	g := &Gateway{handlers: handlers, authorizer: authorizer, local: map[string]http.Handler{}, log: log}
	for _, r := range routes {
		if handlers[r.Function] == nil {
			return nil, fmt.Errorf("route %s: no local handler for function %s", r.Key(), r.Function)
		}
		if r.Authorized && authorizer == nil {
			return nil, fmt.Errorf("route %s needs an authorizer", r.Key())
		}
		g.routes = append(g.routes, compiledRoute{Route: r, segments: strings.Split(strings.Trim(r.Path, "/"), "/")})
	}
	return g, nil
}

// HandleLocal adds a route that exists only locally (never in the template).
func (g *Gateway) HandleLocal(method, path string, h http.Handler) { g.local[method+" "+path] = h }

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := g.local[r.Method+" "+r.URL.Path]; ok {
		h.ServeHTTP(w, r)
		return
	}
	route, params, status := g.match(r.Method, r.URL.Path)
	if status != http.StatusOK {
		var headers map[string]string
		if allow := g.allowed(r.URL.Path); len(allow) > 0 {
			// A known path under another method: 405 with the methods it
			// takes, as RFC 9110 requires of every 405.
			status, headers = http.StatusMethodNotAllowed, map[string]string{"Allow": strings.Join(allow, ", ")}
		}
		writeDetail(w, status, http.StatusText(status), headers)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeDetail(w, http.StatusBadRequest, "Could not read request body", nil)
		return
	}
	ev := g.event(r, route, params, body)
	if route.Authorized {
		claims, resp := g.authorize(r)
		if resp != nil {
			writeDetail(w, resp.status, resp.msg, resp.headers)
			return
		}
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims, Scopes: strings.Fields(claims["scope"])},
		}
	}
	start := time.Now()
	out, err := g.handlers[route.Function](r.Context(), ev)
	if err != nil {
		// Lambda reports a function error as 500 Internal Server Error.
		g.log.Error("function error", "function", route.Function, "route", route.Key(), "error", err.Error())
		writeDetail(w, http.StatusInternalServerError, "Internal Server Error", nil)
		return
	}
	for k, v := range out.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range out.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	payload := []byte(out.Body)
	if out.IsBase64Encoded {
		payload, _ = base64.StdEncoding.DecodeString(out.Body)
	}
	if out.StatusCode == 0 {
		out.StatusCode = http.StatusOK
	}
	w.WriteHeader(out.StatusCode)
	_, _ = w.Write(payload)
	g.log.Debug("served", "route", route.Key(), logkey.StatusCode, out.StatusCode, "ms", time.Since(start).Milliseconds())
}

// match finds the route for method and path. Literal segments win over
// parameters, as in API Gateway. It answers 404 for no path, 405 for a path
// served only under other methods.
func (g *Gateway) match(method, path string) (compiledRoute, map[string]string, int) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var best *compiledRoute
	var bestParams map[string]string
	bestLiterals := -1
	pathKnown := false
	for i := range g.routes {
		r := &g.routes[i]
		params, literals, ok := matchSegments(r.segments, segs)
		if !ok {
			continue
		}
		pathKnown = true
		if r.Method != method {
			continue
		}
		if literals > bestLiterals {
			best, bestParams, bestLiterals = r, params, literals
		}
	}
	switch {
	case best != nil:
		return *best, bestParams, http.StatusOK
	case pathKnown:
		return compiledRoute{}, nil, http.StatusMethodNotAllowed
	}
	return compiledRoute{}, nil, http.StatusNotFound
}

// allowed lists, sorted, the methods path is served under: the template's
// routes and the local-only ones.
func (g *Gateway) allowed(path string) []string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	seen := map[string]bool{}
	for i := range g.routes {
		if _, _, ok := matchSegments(g.routes[i].segments, segs); ok {
			seen[g.routes[i].Method] = true
		}
	}
	for key := range g.local {
		if method, p, _ := strings.Cut(key, " "); p == path {
			seen[method] = true
		}
	}
	methods := make([]string, 0, len(seen))
	for m := range seen {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	return methods
}

func matchSegments(pattern, segs []string) (map[string]string, int, bool) {
	// A greedy last parameter ("{proxy+}") takes one or more segments, as in API Gateway.
	if n := len(pattern); n > 0 && strings.HasSuffix(pattern[n-1], "+}") {
		if len(segs) < n || segs[n-1] == "" {
			return nil, 0, false
		}
		params, literals, ok := matchSegments(pattern[:n-1], segs[:n-1])
		if !ok {
			return nil, 0, false
		}
		params[strings.TrimSuffix(pattern[n-1][1:], "+}")] = strings.Join(segs[n-1:], "/")
		return params, literals, true
	}
	if len(pattern) != len(segs) {
		return nil, 0, false
	}
	params := map[string]string{}
	literals := 0
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if segs[i] == "" {
				return nil, 0, false
			}
			params[p[1:len(p)-1]] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, 0, false
		}
		literals++
	}
	return params, literals, true
}

type refusal struct {
	status  int
	msg     string
	headers map[string]string
}

// authorize plays the JWT authorizer with the product's texts.
func (g *Gateway) authorize(r *http.Request) (map[string]string, *refusal) {
	token, ok := httpapi.BearerToken(r.Header.Get("Authorization"))
	if !ok {
		return nil, &refusal{status: http.StatusUnauthorized, msg: "Failed to authenticate", headers: map[string]string{"WWW-Authenticate": "Bearer"}}
	}
	claims, err := g.authorizer.Authorize(r.Context(), token)
	if err != nil {
		return nil, &refusal{status: http.StatusForbidden, msg: "Not Authorized for this action"}
	}
	return claims, nil
}

func (g *Gateway) event(r *http.Request, route compiledRoute, params map[string]string, body []byte) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	for k, vs := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	var query map[string]string
	if len(r.URL.Query()) > 0 {
		query = map[string]string{}
		for k, vs := range r.URL.Query() {
			query[k] = strings.Join(vs, ",")
		}
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              route.Key(),
		RawPath:               r.URL.Path,
		RawQueryString:        r.URL.RawQuery,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:   route.Key(),
			Stage:      "$default",
			RequestID:  fmt.Sprintf("local-%d", g.seq.Add(1)),
			DomainName: r.Host,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: strings.Split(r.RemoteAddr, ":")[0], UserAgent: r.UserAgent(),
			},
			TimeEpoch: time.Now().UnixMilli(),
		},
	}
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return ev
}

func writeDetail(w http.ResponseWriter, status int, msg string, headers map[string]string) {
	for k, v := range headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"detail": msg})
}
