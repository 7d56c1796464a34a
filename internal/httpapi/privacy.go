package httpapi

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/pregate/pregate/internal/gate"
)

// The scopes of policies and the access log.
const (
	ScopePolicyRead  = "policy:read"
	ScopePolicyWrite = "policy:create_or_update"
	ScopeAuditRead   = "audit:read"
)

// PolicyRoutes serves the policies' execution timeframes.
func PolicyRoutes(u *gate.PolicyCases) []Route {
	return []Route{
		{Key: "GET /api/v1/dsr/policy", Scope: ScopePolicyRead, Handle: listPolicies(u)},
		{Key: "PATCH /api/v1/dsr/policy", Scope: ScopePolicyWrite, Handle: patchPolicies(u)},
	}
}

// AccessLogRoutes serves the access log.
func AccessLogRoutes(log gate.AccessLog) []Route {
	return []Route{{Key: "GET /api/v1/audit/access", Scope: ScopeAuditRead, Handle: listAccess(log)}}
}

type policyJSON struct {
	Key                string `json:"key"`
	Name               string `json:"name"`
	Action             string `json:"action"`
	ExecutionTimeframe *int   `json:"execution_timeframe"`
}

func toPolicyJSON(p gate.Policy) policyJSON {
	out := policyJSON{Key: p.Key, Name: p.Name, Action: p.Action}
	if p.ExecutionTimeframe > 0 {
		out.ExecutionTimeframe = &p.ExecutionTimeframe
	}
	return out
}

func listPolicies(u *gate.PolicyCases) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		all, err := u.List(ctx)
		if err != nil {
			return Response{}, err
		}
		out := make([]policyJSON, len(all))
		for i, p := range all {
			out[i] = toPolicyJSON(p)
		}
		page, err := PaginateOffset(r, out)
		if err != nil {
			return Response{}, err
		}
		return OK(page)
	}
}

// policyPatchJSON is one item as sent: the timeframe stays raw so that a
// missing one (required), null (none) and a number are told apart.
type policyPatchJSON struct {
	Key       string          `json:"key"`
	Timeframe json.RawMessage `json:"execution_timeframe" nullable:"true"`
}

func patchPolicies(u *gate.PolicyCases) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		var body []policyPatchJSON
		if err := DecodeJSON(r.Body, &body); err != nil {
			return Response{}, err
		}
		changes := make([]gate.PolicyChange, len(body))
		for i, b := range body {
			changes[i] = gate.PolicyChange{Key: b.Key}
			switch raw := string(b.Timeframe); raw {
			case "":
				changes[i].Problem = "execution_timeframe is required (a number of days, or null)"
			case "null":
			default:
				n, err := strconv.Atoi(raw)
				if err != nil {
					changes[i].Problem = gate.MsgTimeframeRange
					break
				}
				changes[i].Days = &n
			}
		}
		res, err := u.Patch(ctx, changes)
		if err != nil {
			return Response{}, err
		}
		succeeded := make([]policyJSON, len(res.Succeeded))
		for i, p := range res.Succeeded {
			succeeded[i] = toPolicyJSON(p)
		}
		return OK(map[string]any{"succeeded": succeeded, "failed": failuresJSON(res.Failed)})
	}
}

type accessJSON struct {
	At               string  `json:"at"`
	Actor            string  `json:"actor"`
	Action           string  `json:"action"`
	PrivacyRequestID *string `json:"privacy_request_id"`
	Detail           string  `json:"detail"`
}

func listAccess(log gate.AccessLog) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		size, err := offsetQueryInt(r, "size", gate.DefaultPageSize, 1, gate.MaxPageSize)
		if err != nil {
			return Response{}, err
		}
		page, err := gate.ListAccess(ctx, log, size, r.Query("cursor"))
		if err != nil {
			return Response{}, err
		}
		items := make([]accessJSON, len(page.Items))
		for i, e := range page.Items {
			items[i] = accessJSON{At: gate.FormatTime(e.At), Actor: e.Actor, Action: e.Action, PrivacyRequestID: nullable(e.PrivacyRequestID), Detail: e.Detail}
		}
		return OK(map[string]any{"items": items, "next_cursor": nullable(page.NextCursor)})
	}
}
