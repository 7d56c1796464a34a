package httpapi

import (
	"context"
	"net/http"

	"github.com/pregate/pregate/internal/gate"
)

// WebhookActivityRoutes serve a webhook's delivery log and health (beyond Fides).
func WebhookActivityRoutes(u *gate.WebhookActivity) []Route {
	return []Route{
		{Key: "GET /api/v1/dsr/webhook/pre_approval/{key}/deliveries", Scope: ScopeWebhookRead, Handle: listDeliveries(u)},
		{Key: "GET /api/v1/dsr/webhook/pre_approval/{key}/health", Scope: ScopeWebhookRead, Handle: webhookHealth(u)},
	}
}

type attemptJSON struct {
	PrivacyRequestID string  `json:"privacy_request_id"`
	Run              int     `json:"run"`
	Attempt          int     `json:"attempt"`
	At               string  `json:"at"`
	Outcome          string  `json:"outcome"`
	HTTPStatus       *int    `json:"http_status"`
	LatencyMS        *int64  `json:"latency_ms"`
	Error            *string `json:"error"`
}

func attemptOut(a gate.LoggedAttempt) attemptJSON {
	out := attemptJSON{PrivacyRequestID: a.PrivacyRequestID, Run: a.Run, Attempt: a.Attempt, At: gate.FormatTime(a.At), Outcome: string(a.Outcome)}
	if a.HTTPStatus != 0 {
		out.HTTPStatus = &a.HTTPStatus
	}
	if a.Latency > 0 || a.HTTPStatus != 0 {
		ms := a.Latency.Milliseconds()
		out.LatencyMS = &ms
	}
	if a.Error != "" {
		out.Error = &a.Error
	}
	return out
}

func listDeliveries(u *gate.WebhookActivity) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		size, err := pageSize(r)
		if err != nil {
			return Response{}, err
		}
		page, err := u.Deliveries(ctx, r.Path("key"), size, r.Query("cursor"))
		if err != nil {
			return Response{}, err
		}
		items := make([]attemptJSON, len(page.Items))
		for i, a := range page.Items {
			items[i] = attemptOut(a)
		}
		var next *string
		if page.NextCursor != "" {
			next = &page.NextCursor
		}
		return OK(map[string]any{"items": items, "next_cursor": next})
	}
}

func webhookHealth(u *gate.WebhookActivity) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		h, err := u.Health(ctx, r.Path("key"))
		if err != nil {
			return Response{}, err
		}
		var lastAt, last *string
		if h.LastFailureAt != nil {
			at := gate.FormatTime(*h.LastFailureAt)
			lastAt, last = &at, &h.LastFailure
		}
		return OK(map[string]any{
			"calls": h.Calls, "failures": h.Failures, "eligible": h.Eligible, "not_eligible": h.NotEligible,
			"p50_latency_ms": h.P50, "p95_latency_ms": h.P95, "consecutive_failures": h.ConsecutiveFailures,
			"last_failure_at": lastAt, "last_failure": last,
		})
	}
}

// WebhookTestRoutes send a test call to a webhook and show what came of it (beyond Fides).
func WebhookTestRoutes(u *gate.WebhookTests) []Route {
	return []Route{
		{Key: "POST /api/v1/dsr/webhook/pre_approval/{key}/test", Scope: ScopeWebhookWrite, Handle: sendTest(u)},
		{Key: "GET /api/v1/dsr/webhook/pre_approval/{key}/test/{test_id}", Scope: ScopeWebhookRead, Handle: getTest(u)},
	}
}

func sendTest(u *gate.WebhookTests) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		t, err := u.Send(ctx, r.Path("key"))
		if err != nil {
			return Response{}, err
		}
		return Response{Status: http.StatusAccepted, Body: map[string]string{"test_id": t.ID}}, nil
	}
}

func getTest(u *gate.WebhookTests) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		t, err := u.Get(ctx, r.Path("key"), r.Path("test_id"))
		if err != nil {
			return Response{}, err
		}
		out := map[string]any{"test_id": t.ID, "status": t.Status(), "http_status": nil, "latency_ms": nil, "error": nil, "reply": nil, "replied_at": nil}
		if t.HTTPStatus != 0 {
			out["http_status"] = t.HTTPStatus
		}
		if t.Call != "" && (t.HTTPStatus != 0 || t.Latency > 0) {
			out["latency_ms"] = t.Latency.Milliseconds()
		}
		if t.Error != "" {
			out["error"] = t.Error
		}
		if t.Reply != "" {
			out["reply"], out["replied_at"] = string(t.Reply), gate.FormatTime(*t.RepliedAt)
		}
		return OK(out)
	}
}
