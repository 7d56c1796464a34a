package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/infra/stack"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/httpapi"
	"github.com/pregate/pregate/internal/queue"
	"github.com/pregate/pregate/internal/stream"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// staticWebhooks stands in for the config table's lister, which lives on another branch.
type staticWebhooks []gate.Webhook

func (s staticWebhooks) ListWebhooks(context.Context) (gate.WebhookConfig, error) {
	return gate.WebhookConfig{Version: 1, Webhooks: s}, nil
}

func (s staticWebhooks) WebhooksSince(context.Context, int64) ([]gate.Webhook, error) { return s, nil }

type env struct {
	t     *testing.T
	api   *httpapi.API
	stack *stack.Stack
	aws   aws.Config
}

func newEnv(t *testing.T, manual bool, hooks gate.WebhookLister) *env {
	t.Helper()
	return newEnvWith(t, func(u *gate.Requests) { u.RequireManualApproval, u.Webhooks = manual, hooks })
}

// newEnvWith serves the routes on a fresh stack; adjust changes the use cases' settings.
func newEnvWith(t *testing.T, adjust func(*gate.Requests)) *env {
	t.Helper()
	s, cfg := awstest.Stack(t)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	u := &gate.Requests{
		Store: dynamo.NewRequestStore(dynamodb.NewFromConfig(cfg), s.Resources["RequestsTable"].Ref),
		Now:   time.Now,
		NewID: gate.NewRequestID,
		Log:   log,
	}
	adjust(u)
	return &env{t: t, api: httpapi.New(log, "", httpapi.PublicRequestRoutes(u), httpapi.AdminRequestRoutes(u)), stack: s, aws: cfg}
}

var allScopes = "privacy-request:read privacy-request:review"

type call struct {
	method, path string // path as routed, e.g. /api/v1/privacy-request/{id}
	params       map[string]string
	query        map[string]string
	body         string
	scope        *string // nil: all scopes; "" with noAuth: no claims
	noAuth       bool
}

func (e *env) do(c call) (int, map[string]any) {
	e.t.Helper()
	status, raw := e.doRaw(c)
	var body map[string]any
	if raw != "" && raw != "null" {
		if err := json.Unmarshal([]byte(raw), &body); err != nil {
			e.t.Fatalf("%s %s: body %q: %v", c.method, c.path, raw, err)
		}
	}
	return status, body
}

// doRaw returns the status and the body as sent.
func (e *env) doRaw(c call) (int, string) {
	e.t.Helper()
	ev := events.APIGatewayV2HTTPRequest{
		RouteKey: c.method + " " + c.path, PathParameters: c.params, QueryStringParameters: c.query, Body: c.body,
	}
	if !c.noAuth {
		scope := allScopes
		if c.scope != nil {
			scope = *c.scope
		}
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"client_id": "admin-1", "scope": scope}},
		}
	}
	out, err := e.api.Handle(context.Background(), ev)
	if err != nil {
		e.t.Fatal(err)
	}
	return out.StatusCode, out.Body
}

func (e *env) mustOK(c call) map[string]any {
	e.t.Helper()
	status, body := e.do(c)
	if status != http.StatusOK {
		e.t.Fatalf("%s %s: %d %v", c.method, c.path, status, body)
	}
	return body
}

func (e *env) submit(items ...string) map[string]any {
	e.t.Helper()
	return e.mustOK(call{method: "POST", path: "/api/v1/privacy-request", body: "[" + strings.Join(items, ",") + "]", noAuth: true})
}

// submitOne submits one access request and returns its id.
func (e *env) submitOne() string {
	e.t.Helper()
	res := e.submit(`{"identity":{"email":"a@example.com"},"policy_key":"default_access_policy"}`)
	return list(res["succeeded"])[0].(map[string]any)["id"].(string)
}

func (e *env) get(id string) map[string]any {
	e.t.Helper()
	return e.mustOK(call{method: "GET", path: "/api/v1/privacy-request/{id}", params: map[string]string{"id": id}})
}

func (e *env) activity(id string) []any {
	e.t.Helper()
	return list(e.mustOK(call{method: "GET", path: "/api/v1/privacy-request/{id}/activity", params: map[string]string{"id": id}})["items"])
}

func (e *env) review(verb, body string) map[string]any {
	e.t.Helper()
	return e.mustOK(call{method: "PATCH", path: "/api/v1/privacy-request/administrate/" + verb, body: body})
}

func list(v any) []any { l, _ := v.([]any); return l }

var timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

func TestSubmitPendingAndGet(t *testing.T) {
	e := newEnv(t, true, nil)
	res := e.submit(`{"identity":{"email":"a@example.com","phone_number":"+14155552671"},"policy_key":"default_erasure_policy","external_id":"ext-1"}`)
	if len(list(res["failed"])) != 0 || len(list(res["succeeded"])) != 1 {
		t.Fatalf("result %v", res)
	}
	got := list(res["succeeded"])[0].(map[string]any)
	id := got["id"].(string)
	if !regexp.MustCompile(`^pri_[0-9a-f-]{36}$`).MatchString(id) {
		t.Errorf("id %q", id)
	}
	want := map[string]any{"status": "pending", "policy_key": "default_erasure_policy", "policy_action": "erasure",
		"external_id": "ext-1", "identity_verified_at": nil, "reviewed_at": nil, "reviewed_by": nil,
		"identity": map[string]any{"email": "a@example.com", "phone_number": "+14155552671"}, "webhooks": []any{}}
	for k, v := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	for _, k := range []string{"created_at", "updated_at"} {
		if s, _ := got[k].(string); !timeRE.MatchString(s) {
			t.Errorf("%s = %v, not RFC 3339 UTC micro", k, got[k])
		}
	}
	if len(got) != 14 {
		t.Errorf("response has %d fields, want the documented 14: %v", len(got), got)
	}
	if got["days_left"] != float64(29) || got["due_date"] == nil {
		t.Errorf("a request just submitted with 30 days: due_date %v, days_left %v, want 29 days left", got["due_date"], got["days_left"])
	}
	if fetched := e.get(id); fmt.Sprint(fetched) != fmt.Sprint(got) {
		t.Errorf("GET differs from submission:\n%v\n%v", fetched, got)
	}
}

func TestSubmitWithWebhooksAwaitsPreApproval(t *testing.T) {
	e := newEnv(t, true, staticWebhooks{{Key: "first", Name: "First hook"}, {Key: "second", Name: "Second hook", Mode: gate.ModeShadow}})
	res := e.submit(`{"identity":{"email":"a@example.com"},"policy_key":"default_access_policy"}`)
	r := list(res["succeeded"])[0].(map[string]any)
	if r["status"] != "awaiting_pre_approval" {
		t.Fatalf("status %v", r["status"])
	}
	if got := fmt.Sprint(r["webhooks"]); got != "[map[attempts:0 key:first mode:enforce state:pending] map[attempts:0 key:second mode:shadow state:pending]]" {
		t.Errorf("webhooks %s", got)
	}
	act := e.activity(r["id"].(string))
	if len(act) != 1 {
		t.Fatalf("activity %v", act)
	}
	a := act[0].(map[string]any)
	if a["action"] != "pre_approval_webhook_triggered" || a["message"] != "Triggered pre-approval webhooks: First hook, Second hook (shadow)" ||
		a["webhook_key"] != nil || a["actor"] != nil || !timeRE.MatchString(a["at"].(string)) {
		t.Errorf("entry %v", a)
	}
}

func TestSubmitAutoApproves(t *testing.T) {
	hooks := staticWebhooks{{Key: "k", Name: "K"}}
	cases := []struct {
		name   string
		manual bool
		policy string
	}{
		{"manual approval off", false, "default_access_policy"},
		{"consent policy", true, "default_consent_policy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.manual, hooks)
			res := e.submit(`{"identity":{"phone_number":"+447700900123"},"policy_key":"` + c.policy + `"}`)
			r := list(res["succeeded"])[0].(map[string]any)
			if r["status"] != "approved" || len(list(r["webhooks"])) != 0 {
				t.Errorf("request %v", r)
			}
		})
	}
}

func TestSubmitUnknownPolicyFailsThatItem(t *testing.T) {
	e := newEnv(t, true, nil)
	res := e.submit(`{"identity":{"email":"a@example.com"},"policy_key":"nope"}`,
		`{"identity":{"email":"b@example.com"},"policy_key":"default_update_policy"}`)
	failed := list(res["failed"])
	if len(failed) != 1 || len(list(res["succeeded"])) != 1 {
		t.Fatalf("result %v", res)
	}
	f := failed[0].(map[string]any)
	if f["message"] != "Policy with key nope does not exist" || fmt.Sprint(f["data"]) != "map[identity:map[email:a@example.com] policy_key:nope]" {
		t.Errorf("failure %v", f)
	}
	if items := list(e.mustOK(call{method: "GET", path: "/api/v1/privacy-request"})["items"]); len(items) != 1 {
		t.Errorf("stored %d requests, want 1", len(items))
	}
}

func TestApproveAndDeny(t *testing.T) {
	e := newEnv(t, true, nil)
	a, d := e.submitOne(), e.submitOne()

	res := e.review("approve", `{"request_ids":["`+a+`","pri_missing"]}`)
	ok, failed := list(res["succeeded"]), list(res["failed"])
	if len(ok) != 1 || len(failed) != 1 {
		t.Fatalf("approve %v", res)
	}
	r := ok[0].(map[string]any)
	if r["status"] != "approved" || r["reviewed_by"] != "admin-1" || !timeRE.MatchString(fmt.Sprint(r["reviewed_at"])) {
		t.Errorf("approved %v", r)
	}
	if got := fmt.Sprint(failed[0]); got != "map[data:map[privacy_request_id:pri_missing] message:No privacy request found with id 'pri_missing']" {
		t.Errorf("failure %s", got)
	}

	res = e.review("deny", `{"request_ids":["`+d+`","`+a+`"],"reason":"Not a customer"}`)
	ok, failed = list(res["succeeded"]), list(res["failed"])
	if len(ok) != 1 || ok[0].(map[string]any)["status"] != "denied" || len(failed) != 1 {
		t.Fatalf("deny %v", res)
	}
	if got := fmt.Sprint(failed[0]); got != "map[data:map[privacy_request_id:"+a+"] message:Cannot transition status]" {
		t.Errorf("failure %s", got)
	}
	// Decided requests never move again.
	res = e.review("approve", `{"request_ids":["`+d+`"]}`)
	if len(list(res["failed"])) != 1 || e.get(d)["status"] != "denied" {
		t.Errorf("denied request moved: %v", res)
	}

	last := func(id string) map[string]any { act := e.activity(id); return act[len(act)-1].(map[string]any) }
	if got := last(a); got["action"] != "approved" || got["message"] != nil || got["actor"] != "admin-1" {
		t.Errorf("approve entry %v", got)
	}
	if got := last(d); got["action"] != "denied" || got["message"] != "Not a customer" || got["actor"] != "admin-1" {
		t.Errorf("deny entry %v", got)
	}
	if n := len(e.activity(a)); n != 2 {
		t.Errorf("approved request has %d entries, want 2", n)
	}
}

func TestListPagesNewestFirst(t *testing.T) {
	e := newEnv(t, true, nil)
	var ids []string
	for range 5 {
		ids = append(ids, e.submitOne())
	}
	e.review("approve", `{"request_ids":["`+ids[1]+`","`+ids[3]+`"]}`)

	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		q := map[string]string{"size": "2"}
		if cursor != "" {
			q["cursor"] = cursor
		}
		page := e.mustOK(call{method: "GET", path: "/api/v1/privacy-request", query: q})
		for _, it := range list(page["items"]) {
			seen = append(seen, it.(map[string]any)["id"].(string))
		}
		if page["next_cursor"] == nil {
			break
		}
		cursor = page["next_cursor"].(string)
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("paged %v, want %v", seen, want)
	}

	approved := list(e.mustOK(call{method: "GET", path: "/api/v1/privacy-request", query: map[string]string{"status": "approved"}})["items"])
	if len(approved) != 2 || approved[0].(map[string]any)["id"] != ids[3] || approved[1].(map[string]any)["id"] != ids[1] {
		t.Errorf("approved %v", approved)
	}
	byID := e.mustOK(call{method: "GET", path: "/api/v1/privacy-request", query: map[string]string{"request_id": ids[2]}})
	if items := list(byID["items"]); len(items) != 1 || items[0].(map[string]any)["id"] != ids[2] || byID["next_cursor"] != nil {
		t.Errorf("by id %v", byID)
	}
	none := e.mustOK(call{method: "GET", path: "/api/v1/privacy-request", query: map[string]string{"request_id": ids[2], "status": "approved"}})
	if len(list(none["items"])) != 0 {
		t.Errorf("status and id filter %v", none)
	}
}

func TestRequestErrors(t *testing.T) {
	e := newEnv(t, true, nil)
	id := e.submitOne()
	created := e.get(id)["created_at"].(string)
	if page := e.mustOK(listCursor(created + "#" + id)); page["items"] == nil {
		t.Fatalf("the cursor of a stored request: %v", page) // the 400s below are for what differs
	}
	read, other := "privacy-request:read", "webhook:read"
	cases := []struct {
		name   string
		c      call
		status int
		detail string
	}{
		{"get unknown", call{method: "GET", path: "/api/v1/privacy-request/{id}", params: map[string]string{"id": "pri_x"}}, 404, "No privacy request found with id 'pri_x'"},
		{"activity unknown", call{method: "GET", path: "/api/v1/privacy-request/{id}/activity", params: map[string]string{"id": "pri_x"}}, 404, "No privacy request found with id 'pri_x'"},
		{"list no token", call{method: "GET", path: "/api/v1/privacy-request", noAuth: true}, 401, "Failed to authenticate"},
		{"get wrong scope", call{method: "GET", path: "/api/v1/privacy-request/{id}", params: map[string]string{"id": id}, scope: &other}, 403, "Not Authorized for this action. Required scope(s): [privacy-request:read]"},
		{"approve with read scope", call{method: "PATCH", path: "/api/v1/privacy-request/administrate/approve", body: `{"request_ids":["` + id + `"]}`, scope: &read}, 403, "Not Authorized for this action. Required scope(s): [privacy-request:review]"},
		{"deny no token", call{method: "PATCH", path: "/api/v1/privacy-request/administrate/deny", body: `{"request_ids":["` + id + `"]}`, noAuth: true}, 401, "Failed to authenticate"},
		{"get oversized id", call{method: "GET", path: "/api/v1/privacy-request/{id}", params: map[string]string{"id": strings.Repeat("x", 3000)}}, 404, "No privacy request found with id '" + strings.Repeat("x", 3000) + "'"},
		{"malformed cursor", call{method: "GET", path: "/api/v1/privacy-request", query: map[string]string{"cursor": "!!"}}, 400, "Invalid cursor"},
		{"cursor of no request", listCursor(created + "#pri_00000000-0000-4000-8000-000000000000"), 400, "Invalid cursor"},
		{"cursor with another time", listCursor("2020-01-01T00:00:00.000000Z#" + id), 400, "Invalid cursor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := e.do(c.c)
			if status != c.status || body["detail"] != c.detail {
				t.Errorf("%d %v, want %d %q", status, body, c.status, c.detail)
			}
		})
	}
	res := e.review("approve", `{"request_ids":["", "`+strings.Repeat("y", 3000)+`"]}`)
	if len(list(res["failed"])) != 2 || list(res["failed"])[0].(map[string]any)["message"] != "No privacy request found with id ''" {
		t.Errorf("odd ids: %v", res)
	}
	if e.get(id)["status"] != "pending" {
		t.Error("a refused call changed the request")
	}
}

// listCursor lists after the given sort key, as a next_cursor would.
func listCursor(sortKey string) call {
	return call{method: "GET", path: "/api/v1/privacy-request", query: map[string]string{"cursor": base64.RawURLEncoding.EncodeToString([]byte(sortKey))}}
}

// TestBadInputChangesNothing sends bad bodies and parameters to every
// privacy-request route: each is a documented 4xx and nothing is written.
func TestBadInputChangesNothing(t *testing.T) {
	e := newEnv(t, true, nil)
	id := e.submitOne()
	before := e.get(id)
	submit := func(body string) call {
		return call{method: "POST", path: "/api/v1/privacy-request", body: body, noAuth: true}
	}
	approve := func(body string) call {
		return call{method: "PATCH", path: "/api/v1/privacy-request/administrate/approve", body: body}
	}
	deny := func(body string) call {
		return call{method: "PATCH", path: "/api/v1/privacy-request/administrate/deny", body: body}
	}
	listQ := func(q map[string]string) call { return call{method: "GET", path: "/api/v1/privacy-request", query: q} }
	item := `{"identity":{"email":"a@example.com"},"policy_key":"default_access_policy"}`
	fifty1 := "[" + strings.TrimSuffix(strings.Repeat(item+",", 51), ",") + "]"
	ids51 := `{"request_ids":[` + strings.TrimSuffix(strings.Repeat(`"`+id+`",`, 51), ",") + `]}`
	created := before["created_at"].(string)
	cases := []struct {
		name   string
		c      call
		status int
	}{
		{"submit empty body", submit(""), 422},
		{"submit body over 1 MiB", submit("[" + strings.Repeat(" ", httpapi.MaxBodyBytes) + item + "]"), 413},
		{"submit malformed", submit(`[{"identity":`), 400},
		{"submit trailing data", submit(`[] []`), 400},
		{"submit object not list", submit(item), 422},
		{"submit empty list", submit(`[]`), 422},
		{"submit 51 items", submit(fifty1), 422},
		{"submit no identity", submit(`[{"policy_key":"default_access_policy"}]`), 422},
		{"submit empty identity", submit(`[{"identity":{},"policy_key":"default_access_policy"}]`), 422},
		{"submit null identity values", submit(`[{"identity":{"email":null,"phone_number":null},"policy_key":"default_access_policy"}]`), 422},
		{"submit bad email", submit(`[{"identity":{"email":"not-an-email"},"policy_key":"default_access_policy"}]`), 422},
		{"submit bad phone", submit(`[{"identity":{"phone_number":"555-1234"},"policy_key":"default_access_policy"}]`), 422},
		{"submit email wrong type", submit(`[{"identity":{"email":5},"policy_key":"default_access_policy"}]`), 422},
		{"submit unknown field", submit(`[{"identity":{"email":"a@example.com"},"policy_key":"default_access_policy","x":1}]`), 422},
		{"submit unknown identity field", submit(`[{"identity":{"ssn":"1"},"policy_key":"default_access_policy"}]`), 422},
		{"submit no policy", submit(`[{"identity":{"email":"a@example.com"}}]`), 422},
		{"submit one good one bad", submit(`[` + item + `,{"identity":{"email":"bad"},"policy_key":"default_access_policy"}]`), 422},
		{"approve empty body", approve(""), 422},
		{"approve malformed", approve(`{"request_ids":`), 400},
		{"approve no ids", approve(`{}`), 422},
		{"approve empty ids", approve(`{"request_ids":[]}`), 422},
		{"approve 51 ids", approve(ids51), 422},
		{"approve ids not strings", approve(`{"request_ids":[1]}`), 422},
		{"approve with reason", approve(`{"request_ids":["` + id + `"],"reason":"x"}`), 422},
		{"deny empty ids", deny(`{"request_ids":[],"reason":"x"}`), 422},
		{"deny reason not string", deny(`{"request_ids":["` + id + `"],"reason":1}`), 422},
		{"list bad status", listQ(map[string]string{"status": "done"}), 422},
		{"list size 0", listQ(map[string]string{"size": "0"}), 422},
		{"list size 101", listQ(map[string]string{"size": "101"}), 422},
		{"list size not a number", listQ(map[string]string{"size": "ten"}), 422},
		{"list cursor not base64", listQ(map[string]string{"cursor": "%%%"}), 400},
		{"list cursor unknown shape", listQ(map[string]string{"cursor": "Z2FyYmFnZQ"}), 400},
		{"list cursor of no request", listCursor(created + "#pri_00000000-0000-4000-8000-000000000000"), 400},
		{"list cursor with another time", listCursor("2020-01-01T00:00:00.000000Z#" + id), 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := e.do(c.c)
			if status != c.status {
				t.Errorf("status %d %v, want %d", status, body, c.status)
			}
			if body["detail"] == nil {
				t.Errorf("no detail in %v", body)
			}
		})
	}
	// An unknown policy is not a bad body: as in Fides, that item fails and
	// the call is 200.
	res := e.submit(`{"identity":{"email":"a@example.com"},"policy_key":"default_nope_policy"}`)
	if f := list(res["failed"]); len(f) != 1 || len(list(res["succeeded"])) != 0 ||
		f[0].(map[string]any)["message"] != "Policy with key default_nope_policy does not exist" {
		t.Errorf("unknown policy: %v", res)
	}
	items := list(e.mustOK(call{method: "GET", path: "/api/v1/privacy-request"})["items"])
	if len(items) != 1 || fmt.Sprint(e.get(id)) != fmt.Sprint(before) {
		t.Errorf("bad input changed state: %d requests, %v", len(items), e.get(id))
	}
}

// TestBadVerifyChangesNothing tries codes that must not verify: each is its
// documented error with its exact text, and neither request nor timeline moves.
func TestBadVerifyChangesNothing(t *testing.T) {
	e, box, clk := newVerifyEnv(t, nil)
	open := e.submitOne() // a@example.com, still unverified
	code := box.code("a@example.com")
	res := e.submit(`{"identity":{"email":"b@example.com"},"policy_key":"default_access_policy"}`)
	done := list(res["succeeded"])[0].(map[string]any)["id"].(string)
	usedCode := box.code("b@example.com")
	if status, body := e.verify(done, usedCode); status != 200 || body["status"] != "pending" {
		t.Fatalf("verify: %d %v", status, body)
	}
	state := func() string {
		return fmt.Sprint(e.get(open), e.activity(open), e.get(done), e.activity(done))
	}
	before := state()
	unknown := "pri_00000000-0000-4000-8000-000000000000"
	// In order: the last row moves the clock past the code's expiry.
	cases := []struct {
		name, id, code string
		expire         bool
		status         int
		detail         string
	}{
		{"wrong code", open, wrong(code), false, 403, "Incorrect identification code. Enter a valid code!"},
		{"reused code", done, usedCode, false, 400, "Invalid identity verification request. Privacy request '" + done + "' status = pending."},
		{"unknown request", unknown, code, false, 404, "No privacy request found with id '" + unknown + "'"},
		{"expired code", open, code, true, 400, "The identification code has expired. Submit a new request."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.expire {
				clk.add(gate.CodeTTL + time.Second)
			}
			if status, body := e.verify(c.id, c.code); status != c.status || body["detail"] != c.detail {
				t.Errorf("%d %v, want %d %q", status, body, c.status, c.detail)
			}
		})
	}
	if after := state(); after != before {
		t.Errorf("a refused code changed state:\n%s\n%s", before, after)
	}
}

// TestApproveDenyRace fires an approval and a denial at the same instant for
// each of many requests: each request takes exactly one decision, and the
// approved queue gets exactly one message per approval.
func TestApproveDenyRace(t *testing.T) {
	const requests, rounds = 50, 10
	e := newEnv(t, true, nil)
	decided := map[string]any{} // request id -> the status it ended in
	for round := range rounds {
		ids := make([]string, requests)
		for i := range ids {
			ids[i] = e.submitOne()
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		wins := make([][2]int, requests) // approvals, denials that succeeded
		for i, id := range ids {
			for v, verb := range []string{"approve", "deny"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					body := `{"request_ids":["` + id + `"],"reason":"race"}`
					if verb == "approve" {
						body = `{"request_ids":["` + id + `"]}`
					}
					status, res := e.do(call{method: "PATCH", path: "/api/v1/privacy-request/administrate/" + verb, body: body})
					if status != 200 {
						t.Errorf("%s %s: %d %v", verb, id, status, res)
						return
					}
					wins[i][v] = len(list(res["succeeded"]))
				}()
			}
		}
		close(start)
		wg.Wait()
		for i, id := range ids {
			status := e.get(id)["status"]
			decisions := 0
			for _, a := range e.activity(id) {
				if act := a.(map[string]any)["action"]; act == "approved" || act == "denied" {
					decisions++
				}
			}
			w := wins[i]
			want := map[[2]int]any{{1, 0}: "approved", {0, 1}: "denied"}[w]
			if want == nil || status != want || decisions != 1 {
				t.Errorf("round %d request %s: wins %v, status %v, %d decision entries", round, id, w, status, decisions)
			}
			decided[id] = status
		}
	}

	// Every change of the table, through the approved-queue handler twice,
	// as an at-least-once stream may deliver it: the two deliveries of a
	// record run at the same time.
	records := awstest.ReadStream(t, e.aws, e.stack, 2*requests*rounds) // a create and a decision each
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h := &stream.Approved{Queue: queue.NewApprovedQueue(sqs.NewFromConfig(e.aws), e.stack.Resources["ApprovedQueue"].Ref),
		Store: dynamo.NewRequestStore(dynamodb.NewFromConfig(e.aws), e.stack.Resources["RequestsTable"].Ref), Log: log}
	var feed sync.WaitGroup
	for w := range 2 * requests {
		feed.Go(func() {
			for i := w / 2; i < len(records); i += requests {
				if err := h.Handle(context.Background(), records[i]); err != nil {
					t.Error(err)
				}
			}
		})
	}
	feed.Wait()
	messages := map[string]int{}
	for _, m := range awstest.Drain(t, e.aws, e.stack.Resources["ApprovedQueue"].Ref) {
		var b queue.ApprovedBody
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &b); err != nil {
			t.Fatal(err)
		}
		if aws.ToString(b.ApprovedBy) != "admin-1" || b.PolicyAction != "access" {
			t.Errorf("message %+v", b)
		}
		messages[b.PrivacyRequestID]++
	}
	approvals := 0
	for id, status := range decided {
		want := 0
		if status == "approved" {
			want = 1
			approvals++
		}
		if messages[id] != want {
			t.Errorf("request %s (%v): %d approved-queue messages, want %d", id, status, messages[id], want)
		}
	}
	if len(messages) != approvals || approvals == 0 {
		t.Errorf("%d requests have messages, %d were approved", len(messages), approvals)
	}
}
