package httpapi

import (
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/gate"
)

// Caller is the admin behind a request, from the token's claims.
type Caller struct {
	// ClientID names the admin on the timeline (actor) and in reviewed_by:
	// the user who signed in to the console (the token's username), else
	// the app client of a client-credentials token.
	ClientID string
	Scopes   []string
}

// The texts of the admin token checks.
const (
	msgFailedToAuthenticate = "Failed to authenticate"
	msgNotAuthorized        = "Not Authorized for this action"
)

// authorize checks the route's scope against the claims the JWT authorizer
// placed in the request context (API Gateway in AWS, the local gateway here).
// A request that reached us without claims had no usable token.
func (a *API) authorize(ev *events.APIGatewayV2HTTPRequest, scope string) (Caller, error) {
	var claims map[string]string
	if az := ev.RequestContext.Authorizer; az != nil && az.JWT != nil {
		claims = az.JWT.Claims
	}
	if claims == nil {
		return Caller{}, &gate.UnauthenticatedError{Msg: msgFailedToAuthenticate}
	}
	caller := Caller{ClientID: firstNonEmpty(claims["username"], claims["client_id"], claims["sub"])}
	for _, s := range strings.Fields(claims["scope"]) {
		caller.Scopes = append(caller.Scopes, strings.TrimPrefix(s, a.scopePrefix))
	}
	for _, s := range caller.Scopes {
		if s == scope {
			return caller, nil
		}
	}
	return Caller{}, &gate.ForbiddenError{Msg: msgNotAuthorized + ". Required scope(s): [" + scope + "]"}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// BearerToken returns the token of an "Authorization: Bearer <token>" header
// value, and false when the header is missing, of another scheme, or empty.
func BearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}
