package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/keys"
	"github.com/pregate/pregate/internal/metrics"
	"github.com/pregate/pregate/internal/webhook"
)

// emptyStore is a request and config store holding nothing: every read of
// one item is a *gate.NotFoundError and every write succeeds, so a fuzzed
// call runs through decoding, validation and the use case without an
// emulator.
type emptyStore struct{}

var notFound = &gate.NotFoundError{Msg: "not found"}

func (emptyStore) Create(context.Context, *gate.PrivacyRequest) error { return nil }
func (emptyStore) Get(context.Context, string) (*gate.PrivacyRequest, error) {
	return nil, notFound
}
func (emptyStore) Apply(context.Context, gate.Change) (*gate.PrivacyRequest, error) {
	return nil, notFound
}
func (emptyStore) List(context.Context, gate.ListQuery) ([]*gate.PrivacyRequest, string, error) {
	return nil, "", nil
}
func (emptyStore) CountCodeTry(context.Context, string, int) error     { return notFound }
func (emptyStore) Discard(context.Context, *gate.PrivacyRequest) error { return notFound }
func (emptyStore) RecordReply(context.Context, gate.ReplyWrite) (*gate.PrivacyRequest, error) {
	return nil, notFound
}
func (emptyStore) GetConnection(context.Context, string) (gate.Connection, error) {
	return gate.Connection{}, notFound
}
func (emptyStore) ListConnections(context.Context) ([]gate.Connection, error) { return nil, nil }
func (emptyStore) SaveConnection(context.Context, gate.ConnectionPatch) error { return nil }
func (emptyStore) GetSealedSecrets(context.Context, string) (*gate.SealedSecrets, error) {
	return nil, nil
}
func (emptyStore) SaveSecrets(context.Context, string, gate.SealedSecrets, []byte, time.Time) error {
	return nil
}
func (emptyStore) DeleteConnection(context.Context, string, gate.WebhookSet) error { return nil }
func (emptyStore) LoadWebhookSet(context.Context) (gate.WebhookSet, error) {
	return gate.WebhookSet{}, nil
}
func (emptyStore) SaveWebhookSet(context.Context, gate.WebhookSet, []string) error { return nil }
func (emptyStore) ListWebhooks(context.Context) (gate.WebhookConfig, error) {
	return gate.WebhookConfig{}, nil
}
func (emptyStore) WebhooksSince(context.Context, int64) ([]gate.Webhook, error) { return nil, nil }

type plainSealer struct{}

func (plainSealer) Seal(_ context.Context, _ map[string]string, p []byte) ([]byte, error) {
	return p, nil
}
func (plainSealer) Open(_ context.Context, _ map[string]string, s []byte) ([]byte, error) {
	return s, nil
}

// fuzzAPI serves every route of the two functions on the empty store.
func fuzzAPI(f *testing.F) *API {
	raw, err := keys.GenerateKeySetJSON("k1")
	if err != nil {
		f.Fatal(err)
	}
	ks, err := keys.ParseKeySet(raw)
	if err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	var store emptyStore
	emitter := metrics.New(io.Discard, "Pregate", time.Now) // fuzzed ids reach the EMF lines too
	// DNS fails at once: a fuzzed host name is refused without a network.
	offline := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("dns disabled in fuzzing")
	}}
	reqs := &gate.Requests{Store: store, Webhooks: store, Now: time.Now, NewID: gate.NewRequestID, Log: log}
	replies := &gate.Replies{Store: store, Webhooks: store, Tokens: keys.NewTokens(ks, time.Hour, nil), Now: time.Now, Log: log}
	admin := &gate.Admin{Store: store, Sealer: plainSealer{}, Now: time.Now, NewSigningSecret: webhook.NewSigningSecret,
		CheckURL: func(ctx context.Context, u string) error { return webhook.CheckURL(ctx, u, false, offline) }}
	return New(log, "", HealthRoutes(), PublicRequestRoutes(reqs), ReplyRoutes(replies, emitter), ConfigRoutes(admin), AdminRequestRoutes(reqs))
}

// FuzzRoutes: whatever the path parameter, query string, body and
// Authorization header of a call to any route, the answer is never a 5xx,
// its body is JSON, and a 4xx says why in "detail" (bad input is a
// clear 4xx, never a 500).
func FuzzRoutes(f *testing.F) {
	api := fuzzAPI(f)
	routes := api.RouteKeys()
	slices.Sort(routes)
	var scopes []string // every scope a route asks for: the admin may call them all
	for _, r := range routes {
		if s := api.Scope(r); s != "" {
			scopes = append(scopes, s)
		}
	}
	for i, r := range routes {
		f.Add(uint8(i), "pri_00000000-0000-4000-8000-000000000000", "", []byte(`{}`), "", true, false)
		switch {
		case strings.Contains(r, "privacy-request") && strings.HasPrefix(r, "POST"):
			f.Add(uint8(i), "pri_x", "", []byte(`[{"identity":{"email":"a@example.com"},"policy_key":"default_access_policy"}]`), "Bearer x.y.z", false, false)
			f.Add(uint8(i), "pri_x", "", []byte(`{"code":"123456"}`), "Bearer eyJ....", false, false)
		case strings.HasPrefix(r, "GET"):
			f.Add(uint8(i), "k", "size=0&page=-1&status=approved&cursor=MjAyNi0wMS0wMlQwMzowNDowNS4xMjM0NTZaI3ByaV94", []byte(nil), "", true, false)
			f.Add(uint8(i), "k", "size=abc&status=nope&cursor=%%%&request_id=pri_1", []byte(nil), "", true, false)
		case strings.HasPrefix(r, "PATCH") || strings.HasPrefix(r, "PUT"):
			f.Add(uint8(i), "k", "", []byte(`{"request_ids":["pri_1"],"reason":"x"}`), "", true, false)
			f.Add(uint8(i), "k", "", []byte(`[{"key":"k","name":"K","connection_type":"https","access":"read"}]`), "", true, false)
			f.Add(uint8(i), "k", "", []byte(`{"url":"https://validator.example/x","authorization":"a","headers":{"x":"y"}}`), "", true, false)
			f.Add(uint8(i), "k", "", []byte(base64.StdEncoding.EncodeToString([]byte(`[{"key":"w","name":"W","connection_config_key":"k"}]`))), "", true, true)
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, param, query string, body []byte, authorization string, admin, b64 bool) {
		q := map[string]string{}
		values, _ := url.ParseQuery(query) // as API Gateway does, what parses is passed on
		for k, v := range values {
			q[k] = v[0]
		}
		ev := events.APIGatewayV2HTTPRequest{
			RouteKey: routes[int(route)%len(routes)], PathParameters: map[string]string{"id": param, "key": param},
			QueryStringParameters: q, Headers: map[string]string{"authorization": authorization},
			Body: string(body), IsBase64Encoded: b64,
		}
		if admin {
			ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{
					"client_id": "admin-1", "scope": strings.Join(scopes, " ")}},
			}
		}
		resp, err := api.Handle(context.Background(), ev)
		if err != nil {
			t.Fatalf("handler error %v", err)
		}
		if resp.StatusCode < 200 || resp.StatusCode >= 500 {
			t.Fatalf("%s: status %d: %s", ev.RouteKey, resp.StatusCode, resp.Body)
		}
		if resp.StatusCode == 204 {
			return
		}
		var out any
		if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
			t.Fatalf("%s: body is not JSON: %q", ev.RouteKey, resp.Body)
		}
		if resp.StatusCode < 400 {
			return
		}
		m, ok := out.(map[string]any)
		switch detail := m["detail"].(type) {
		case string:
			ok = ok && detail != ""
		case []any:
			ok = ok && resp.StatusCode == 422 && len(detail) > 0
		default:
			ok = false
		}
		if !ok {
			t.Fatalf("%s: %d without a detail: %s", ev.RouteKey, resp.StatusCode, resp.Body)
		}
	})
}
