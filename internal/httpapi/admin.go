package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/pregate/pregate/internal/gate"
)

// Admin scopes served here.
const (
	ScopeConnectionRead   = "connection:read"
	ScopeConnectionWrite  = "connection:create_or_update"
	ScopeConnectionDelete = "connection:delete"
	ScopeWebhookRead      = "webhook:read"
	ScopeWebhookWrite     = "webhook:create_or_update"
	ScopeWebhookDelete    = "webhook:delete"
)

const masked = "**********"

// ConfigRoutes serves connections and pre-approval webhooks.
func ConfigRoutes(a *gate.Admin) []Route {
	h := configHandlers{a}
	return []Route{
		{Key: "GET /api/v1/connection", Scope: ScopeConnectionRead, Handle: h.listConnections},
		{Key: "PATCH /api/v1/connection", Scope: ScopeConnectionWrite, Handle: h.patchConnections},
		{Key: "GET /api/v1/connection/{key}", Scope: ScopeConnectionRead, Handle: h.getConnection},
		{Key: "DELETE /api/v1/connection/{key}", Scope: ScopeConnectionDelete, Handle: h.deleteConnection},
		{Key: "PUT /api/v1/connection/{key}/secret", Scope: ScopeConnectionWrite, Handle: h.secrets(false)},
		{Key: "PATCH /api/v1/connection/{key}/secret", Scope: ScopeConnectionWrite, Handle: h.secrets(true)},
		{Key: "GET /api/v1/dsr/webhook/pre_approval", Scope: ScopeWebhookRead, Handle: h.listWebhooks},
		{Key: "PUT /api/v1/dsr/webhook/pre_approval", Scope: ScopeWebhookWrite, Handle: h.putWebhooks},
		{Key: "POST /api/v1/dsr/webhook/pre_approval", Scope: ScopeWebhookWrite, Handle: h.addWebhook},
		{Key: "GET /api/v1/dsr/webhook/pre_approval/{key}", Scope: ScopeWebhookRead, Handle: h.getWebhook},
		{Key: "PATCH /api/v1/dsr/webhook/pre_approval/{key}", Scope: ScopeWebhookWrite, Handle: h.patchWebhook},
		{Key: "DELETE /api/v1/dsr/webhook/pre_approval/{key}", Scope: ScopeWebhookDelete, Handle: h.deleteWebhook},
		{Key: "POST /api/v1/dsr/webhook/pre_approval/{key}/rotate-secret", Scope: ScopeWebhookWrite, Handle: h.rotateSecret},
	}
}

type configHandlers struct{ a *gate.Admin }

type connectionJSON struct {
	Key            string         `json:"key"`
	Name           string         `json:"name"`
	ConnectionType string         `json:"connection_type"`
	Access         string         `json:"access"`
	Description    string         `json:"description"`
	Disabled       bool           `json:"disabled"`
	CreatedAt      string         `json:"created_at"`
	UpdatedAt      string         `json:"updated_at"`
	Secrets        map[string]any `json:"secrets"`
}

// configTimestamp formats times as the API does everywhere: RFC 3339 UTC with microseconds.
func configTimestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00") }

func connectionOut(c *gate.Connection) *connectionJSON {
	if c == nil {
		return nil
	}
	out := &connectionJSON{
		Key: c.Key, Name: c.Name, ConnectionType: c.ConnectionType, Access: c.Access, Description: c.Description,
		Disabled: c.Disabled, CreatedAt: configTimestamp(c.CreatedAt), UpdatedAt: configTimestamp(c.UpdatedAt),
	}
	if c.Secrets != nil {
		out.Secrets = map[string]any{"url": c.Secrets.URL, "authorization": masked}
		if c.Secrets.HasHeaders {
			out.Secrets["headers"] = masked
		}
	}
	return out
}

type webhookJSON struct {
	Key              string          `json:"key"`
	Name             string          `json:"name"`
	PolicyActions    []string        `json:"policy_actions"`
	Mode             string          `json:"mode"`
	ConnectionConfig *connectionJSON `json:"connection_config"`
	SigningSecret    string          `json:"signing_secret,omitempty"`
}

func webhookOut(v gate.WebhookView) webhookJSON {
	return webhookJSON{Key: v.Key, Name: v.Name, PolicyActions: v.PolicyActions, Mode: string(v.Mode),
		ConnectionConfig: connectionOut(v.Connection), SigningSecret: v.SigningSecret}
}

func (h configHandlers) listConnections(ctx context.Context, r *Request) (Response, error) {
	cs, err := h.a.ListConnections(ctx)
	if err != nil {
		return Response{}, err
	}
	out := make([]*connectionJSON, len(cs))
	for i := range cs {
		out[i] = connectionOut(&cs[i])
	}
	page, err := PaginateOffset(r, out)
	if err != nil {
		return Response{}, err
	}
	return OK(page)
}

func (h configHandlers) patchConnections(ctx context.Context, r *Request) (Response, error) {
	var in []gate.ConnectionInput
	if err := DecodeJSON(r.Body, &in); err != nil {
		return Response{}, err
	}
	done, failed, err := h.a.PatchConnections(ctx, in)
	if err != nil {
		return Response{}, err
	}
	succeeded := make([]*connectionJSON, len(done))
	for i := range done {
		succeeded[i] = connectionOut(&done[i])
	}
	type failure struct {
		Message string               `json:"message"`
		Data    gate.ConnectionInput `json:"data"`
	}
	fails := make([]failure, len(failed))
	for i, f := range failed {
		fails[i] = failure{Message: f.Message, Data: f.Data}
	}
	return OK(map[string]any{"succeeded": succeeded, "failed": fails})
}

func (h configHandlers) getConnection(ctx context.Context, r *Request) (Response, error) {
	c, err := h.a.GetConnection(ctx, r.Path("key"))
	if err != nil {
		return Response{}, err
	}
	return OK(connectionOut(&c))
}

func (h configHandlers) deleteConnection(ctx context.Context, r *Request) (Response, error) {
	if err := h.a.DeleteConnection(ctx, r.Path("key")); err != nil {
		return Response{}, err
	}
	return Response{Status: http.StatusNoContent, NoBody: true}, nil
}

func (h configHandlers) secrets(merge bool) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		key := r.Path("key")
		// An unknown connection is 404 whatever the body.
		if _, err := h.a.GetConnection(ctx, key); err != nil {
			return Response{}, err
		}
		var in gate.SecretsInput
		if err := DecodeJSON(r.Body, &in); err != nil {
			return Response{}, err
		}
		if err := h.a.SetSecrets(ctx, key, in, merge); err != nil {
			return Response{}, err
		}
		return OK(map[string]any{"msg": "Secrets updated for ConnectionConfig with key: " + key + ".", "test_status": nil})
	}
}

func (h configHandlers) listWebhooks(ctx context.Context, r *Request) (Response, error) {
	vs, err := h.a.WebhookViews(ctx)
	if err != nil {
		return Response{}, err
	}
	out := make([]webhookJSON, len(vs))
	for i, v := range vs {
		out[i] = webhookOut(v)
	}
	page, err := PaginateOffset(r, out)
	if err != nil {
		return Response{}, err
	}
	return OK(page)
}

func (h configHandlers) putWebhooks(ctx context.Context, r *Request) (Response, error) {
	var in []gate.WebhookInput
	if err := DecodeJSON(r.Body, &in); err != nil {
		return Response{}, err
	}
	if in == nil {
		return Response{}, gate.Invalid("value is not a valid list", "type_error.list", "body")
	}
	vs, err := h.a.ReplaceWebhooks(ctx, in)
	if err != nil {
		return Response{}, err
	}
	out := make([]webhookJSON, len(vs))
	for i, v := range vs {
		out[i] = webhookOut(v)
	}
	return OK(out)
}

// addWebhook adds one webhook and keeps the others (beyond Fides, whose
// only way to add is the bulk replace).
func (h configHandlers) addWebhook(ctx context.Context, r *Request) (Response, error) {
	var in gate.WebhookInput
	if err := DecodeJSON(r.Body, &in); err != nil {
		return Response{}, err
	}
	v, err := h.a.AddWebhook(ctx, in)
	if err != nil {
		return Response{}, err
	}
	return OK(webhookOut(v))
}

func (h configHandlers) getWebhook(ctx context.Context, r *Request) (Response, error) {
	v, err := h.a.GetWebhook(ctx, r.Path("key"))
	if err != nil {
		return Response{}, err
	}
	return OK(webhookOut(v))
}

func (h configHandlers) patchWebhook(ctx context.Context, r *Request) (Response, error) {
	var in gate.WebhookInput
	if err := DecodeJSON(r.Body, &in); err != nil {
		return Response{}, err
	}
	v, err := h.a.PatchWebhook(ctx, r.Path("key"), in)
	if err != nil {
		return Response{}, err
	}
	return OK(webhookOut(v))
}

func (h configHandlers) deleteWebhook(ctx context.Context, r *Request) (Response, error) {
	if err := h.a.DeleteWebhook(ctx, r.Path("key")); err != nil {
		return Response{}, err
	}
	return OK(nil)
}

func (h configHandlers) rotateSecret(ctx context.Context, r *Request) (Response, error) {
	v, err := h.a.RotateSigningSecret(ctx, r.Path("key"))
	if err != nil {
		return Response{}, err
	}
	return OK(webhookOut(v))
}
