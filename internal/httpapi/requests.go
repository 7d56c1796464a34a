package httpapi

import (
	"context"
	"strconv"

	"github.com/pregate/pregate/internal/gate"
)

// The privacy-request scopes.
const (
	ScopeRequestRead   = "privacy-request:read"
	ScopeRequestReview = "privacy-request:review"
)

// PublicRequestRoutes serves submission and identity verification.
func PublicRequestRoutes(u *gate.Requests) []Route {
	return []Route{
		{Key: SubmitRouteKey, Handle: submitRequests(u)},
		{Key: VerifyRouteKey, Handle: verifyIdentity(u)},
	}
}

type verifyBody struct {
	Code *string `json:"code"`
}

func verifyIdentity(u *gate.Requests) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		var b verifyBody
		if err := DecodeJSON(r.Body, &b); err != nil {
			return Response{}, err
		}
		if b.Code == nil {
			return Response{}, gate.Invalid("field required", "value_error.missing", "body", "code")
		}
		pr, err := u.Verify(ctx, r.Path("id"), *b.Code)
		if err != nil {
			return Response{}, err
		}
		return OK(toRequestJSON(pr))
	}
}

// AdminRequestRoutes serves listing, reading and reviewing requests.
func AdminRequestRoutes(u *gate.Requests) []Route {
	return []Route{
		{Key: "GET /api/v1/privacy-request", Scope: ScopeRequestRead, Handle: listRequests(u)},
		{Key: "GET /api/v1/privacy-request/{id}", Scope: ScopeRequestRead, Handle: getRequest(u)},
		{Key: "GET /api/v1/privacy-request/{id}/activity", Scope: ScopeRequestRead, Handle: requestActivity(u)},
		{Key: "PATCH /api/v1/privacy-request/administrate/approve", Scope: ScopeRequestReview, Handle: approveRequests(u)},
		{Key: "PATCH /api/v1/privacy-request/administrate/deny", Scope: ScopeRequestReview, Handle: denyRequests(u)},
		{Key: "PATCH /api/v1/privacy-request/administrate/retry-pre-approval", Scope: ScopeRequestReview, Handle: retryPreApproval(u)},
		{Key: "PATCH /api/v1/privacy-request/administrate/extend", Scope: ScopeRequestReview, Handle: extendRequests(u)},
		{Key: "GET /api/v1/privacy-request/{id}/evidence", Scope: ScopeRequestRead, Handle: requestEvidence(u)},
		{Key: "POST /api/v1/privacy-request/{id}/reveal", Scope: ScopeRequestRead, Handle: revealRequest(u)},
		{Key: "GET /api/v1/privacy-request/export", Scope: ScopeRequestRead, Handle: exportRequests(u)},
	}
}

type identityBody struct {
	Email       *string `json:"email" nullable:"true"`
	PhoneNumber *string `json:"phone_number" nullable:"true"`
}

type submitBody struct {
	Identity   *identityBody `json:"identity"`
	PolicyKey  string        `json:"policy_key"`
	ExternalID *string       `json:"external_id" nullable:"true"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func submitRequests(u *gate.Requests) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		var body []submitBody
		if err := DecodeJSON(r.Body, &body); err != nil {
			return Response{}, err
		}
		// An empty string is not "absent": it is a malformed email or phone
		// number, as the document says ("" matches neither format).
		var empty []gate.FieldError
		for i, b := range body {
			if b.Identity != nil && b.Identity.Email != nil && *b.Identity.Email == "" {
				empty = append(empty, gate.FieldError{Loc: []any{"body", i, "identity", "email"}, Msg: "value is not a valid email address", Type: "value_error.email"})
			}
			if b.Identity != nil && b.Identity.PhoneNumber != nil && *b.Identity.PhoneNumber == "" {
				empty = append(empty, gate.FieldError{Loc: []any{"body", i, "identity", "phone_number"}, Msg: "value is not a valid E.164 phone number", Type: "value_error.phone_number"})
			}
		}
		if len(empty) > 0 {
			return Response{}, &gate.ValidationError{Fields: empty}
		}
		items := make([]gate.SubmitItem, len(body))
		for i, b := range body {
			items[i] = gate.SubmitItem{PolicyKey: b.PolicyKey, ExternalID: deref(b.ExternalID)}
			if b.Identity != nil {
				items[i].Identity = gate.Identity{Email: deref(b.Identity.Email), PhoneNumber: deref(b.Identity.PhoneNumber)}
			}
		}
		res, err := u.Submit(ctx, items)
		if err != nil {
			return Response{}, err
		}
		return OK(bulkJSON(res))
	}
}

// pageSize reads ?size= of a cursor-paged list (gate.DefaultPageSize when absent).
func pageSize(r *Request) (int, error) {
	s := r.Query("size")
	if s == "" {
		return gate.DefaultPageSize, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, gate.Invalid("value is not a valid integer", "type_error.integer", "query", "size")
	}
	return n, nil
}

func listRequests(u *gate.Requests) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		size, err := pageSize(r)
		if err != nil {
			return Response{}, err
		}
		p := gate.ListParams{Status: r.Query("status"), RequestID: r.Query("request_id"), Cursor: r.Query("cursor"), Size: size,
			DueBefore: r.Query("due_before"), Identity: r.Query("identity"), Open: r.Query("open")}
		_, p.DueBeforeGiven = r.Event.QueryStringParameters["due_before"]
		_, p.OpenGiven = r.Event.QueryStringParameters["open"]
		page, err := u.List(ctx, p)
		if err != nil {
			return Response{}, err
		}
		items := make([]requestJSON, len(page.Items))
		for i, pr := range page.Items {
			items[i] = toRequestJSON(pr)
		}
		return OK(map[string]any{"items": items, "next_cursor": nullable(page.NextCursor)})
	}
}

func getRequest(u *gate.Requests) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		pr, err := u.Get(ctx, r.Path("id"))
		if err != nil {
			return Response{}, err
		}
		return OK(toRequestJSON(pr))
	}
}

func requestActivity(u *gate.Requests) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		entries, err := u.Activity(ctx, r.Path("id"))
		if err != nil {
			return Response{}, err
		}
		items := make([]activityJSON, len(entries))
		for i, e := range entries {
			items[i] = activityJSON{At: gate.FormatTime(e.At), Action: e.Action(), Message: nullable(e.Message()),
				WebhookKey: nullable(e.WebhookKey()), Actor: nullable(e.Actor)}
		}
		return OK(map[string]any{"items": items})
	}
}

type approveBody struct {
	RequestIDs []string `json:"request_ids"`
}

type denyBody struct {
	RequestIDs []string `json:"request_ids"`
	Reason     *string  `json:"reason" nullable:"true"`
}

func approveRequests(u *gate.Requests) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		var b approveBody
		if err := DecodeJSON(r.Body, &b); err != nil {
			return Response{}, err
		}
		res, err := u.Approve(ctx, gate.Decision{IDs: b.RequestIDs, Actor: r.Caller.ClientID})
		if err != nil {
			return Response{}, err
		}
		return OK(bulkJSON(res))
	}
}

func retryPreApproval(u *gate.Requests) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		var b approveBody
		if err := DecodeJSON(r.Body, &b); err != nil {
			return Response{}, err
		}
		res, err := u.RetryPreApproval(ctx, gate.Decision{IDs: b.RequestIDs, Actor: r.Caller.ClientID})
		if err != nil {
			return Response{}, err
		}
		return OK(bulkJSON(res))
	}
}

func denyRequests(u *gate.Requests) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		var b denyBody
		if err := DecodeJSON(r.Body, &b); err != nil {
			return Response{}, err
		}
		res, err := u.Deny(ctx, gate.Decision{IDs: b.RequestIDs, Actor: r.Caller.ClientID, Reason: deref(b.Reason)})
		if err != nil {
			return Response{}, err
		}
		return OK(bulkJSON(res))
	}
}
