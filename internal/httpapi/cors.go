package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
)

// The public routes a privacy-center page calls from a browser.
const (
	SubmitRouteKey = "POST /api/v1/privacy-request"
	VerifyRouteKey = "POST /api/v1/privacy-request/{id}/verify"
)

// corsMaxAge is how long a browser may reuse a preflight answer (seconds).
const corsMaxAge = "600"

// cors is the CORS policy of a set of routes.
type cors struct {
	origins []string        // exact origins, lower case
	routes  map[string]bool // route keys whose responses carry the headers
}

// AllowCORS lets pages on origins call the given POST routes from a browser:
// an OPTIONS route on each path answers the preflight, and every response of
// those routes, errors included, names the caller's origin when it is one of
// origins. Other origins get no CORS header, so the browser refuses them.
// The HTTP API's own CORS settings would apply to every route of the API,
// which is why the function answers it. An empty origins list allows none.
func (a *API) AllowCORS(origins []string, routeKeys ...string) {
	c := &cors{routes: map[string]bool{}}
	for _, o := range origins {
		c.origins = append(c.origins, strings.ToLower(o))
	}
	for _, key := range routeKeys {
		method, path, _ := strings.Cut(key, " ")
		c.routes[key] = true
		preflight := "OPTIONS " + path
		if _, dup := a.routes[preflight]; dup {
			panic("httpapi: route registered twice: " + preflight)
		}
		a.routes[preflight] = Route{Key: preflight, Handle: c.preflight(method)}
		c.routes[preflight] = true
	}
	a.cors = c
}

func (c *cors) preflight(method string) HandlerFunc {
	return func(_ context.Context, r *Request) (Response, error) {
		// No Allow header: the path may take other methods served by
		// another function (GET /privacy-request is the admin API's), which
		// this one cannot name; CORS reads Access-Control-Allow-Methods.
		h := map[string]string{}
		if c.allowed(r.Header("Origin")) {
			h["Access-Control-Allow-Methods"] = method
			h["Access-Control-Allow-Headers"] = "Content-Type"
			h["Access-Control-Max-Age"] = corsMaxAge
		}
		return Response{Status: http.StatusNoContent, NoBody: true, Headers: h}, nil
	}
}

func (c *cors) allowed(origin string) bool {
	return origin != "" && slices.Contains(c.origins, strings.ToLower(origin))
}

// decorate adds the CORS headers to a response of one of c's routes.
func (c *cors) decorate(routeKey, origin string, headers map[string]string) {
	if c == nil || !c.routes[routeKey] {
		return
	}
	headers["Vary"] = "Origin"
	if c.allowed(origin) {
		headers["Access-Control-Allow-Origin"] = origin
	}
}
