package httpapi

import (
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

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
				n, ok := wholeNumber(b.Timeframe)
				if !ok {
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

type extendBody struct {
	RequestIDs []string        `json:"request_ids"`
	Days       json.RawMessage `json:"days"` // a whole number, which JSON may write 10.0
	Reason     *string         `json:"reason"`
}

func extendRequests(u *gate.Requests) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		var b extendBody
		if err := DecodeJSON(r.Body, &b); err != nil {
			return Response{}, err
		}
		var days *int
		if b.Days != nil {
			d, ok := wholeNumber(b.Days)
			if !ok {
				return Response{}, gate.Invalid("value is not a valid integer", "type_error.integer", "body", "days")
			}
			days = &d
		}
		res, err := u.Extend(ctx, gate.Extension{IDs: b.RequestIDs, Days: days, Reason: b.Reason, Actor: r.Caller.ClientID})
		if err != nil {
			return Response{}, err
		}
		return OK(bulkJSON(res))
	}
}

func revealRequest(u *gate.Requests) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		pr, err := u.Reveal(ctx, r.Path("id"), r.Caller.ClientID)
		if err != nil {
			return Response{}, err
		}
		return OK(map[string]any{"identity": identityJSON{Email: nullable(pr.Identity.Email), PhoneNumber: nullable(pr.Identity.PhoneNumber)},
			"external_id": nullable(pr.ExternalID)})
	}
}

type evidenceEntryJSON struct {
	At         string  `json:"at"`
	Action     string  `json:"action"`
	Message    *string `json:"message"`
	WebhookKey *string `json:"webhook_key"`
	Actor      *string `json:"actor"`
	// A call's evidence, on the entries of calls answered 2xx only.
	HTTPStatus *int   `json:"http_status,omitempty"`
	LatencyMS  *int64 `json:"latency_ms,omitempty"`
	BodySHA256 string `json:"body_sha256,omitempty"`
}

func evidenceEntry(e gate.ActivityEntry) evidenceEntryJSON {
	j := evidenceEntryJSON{At: gate.FormatTime(e.At), Action: e.Action(), Message: nullable(e.Message()), WebhookKey: nullable(e.WebhookKey()), Actor: nullable(e.Actor)}
	if e.Kind == gate.KindCalled {
		status, latency := e.HTTPStatus, e.Latency.Milliseconds()
		j.HTTPStatus, j.LatencyMS, j.BodySHA256 = &status, &latency, hex.EncodeToString(e.BodySHA256)
	}
	return j
}

// replyJSON is a reply in the evidence: its entry, its verdict and whether
// a shadow webhook gave it (a shadow reply's action does not tell the verdict).
type replyJSON struct {
	evidenceEntryJSON
	Verdict string `json:"verdict"`
	Mode    string `json:"mode"`
}

// adminActionJSON is an admin's action in the evidence, with its reason
// (null for an approval or a re-run).
type adminActionJSON struct {
	evidenceEntryJSON
	Reason *string `json:"reason"`
}

type runWebhookJSON struct {
	Key  string `json:"key"`
	Name string `json:"name"`
	Mode string `json:"mode"`
}

// replyVerdicts are the kinds of replies and what each answered.
var replyVerdicts = map[gate.ActivityKind]string{
	gate.KindEligible: "eligible", gate.KindNotEligible: "not_eligible",
	gate.KindShadowEligible: "eligible", gate.KindShadowNotEligible: "not_eligible",
}

func mode(shadow bool) string {
	if shadow {
		return "shadow"
	}
	return "enforce"
}

// evidenceOf sorts a request's timeline into what an auditor asks about:
// the runs with their snapshots, the calls, the replies and the admins'
// actions.
func evidenceOf(ev gate.Evidence, at string) map[string]any {
	runs := make([]map[string]any, len(ev.Runs))
	for i, run := range ev.Runs {
		hooks := make([]runWebhookJSON, len(run.Triggered.Hooks))
		for j, m := range run.Triggered.Hooks {
			hooks[j] = runWebhookJSON{Key: m.Key, Name: m.Name, Mode: mode(m.Shadow)}
		}
		runs[i] = map[string]any{"run": run.Run, "started_at": gate.FormatTime(run.Triggered.At), "snapshot": run.Triggered.Message(), "webhooks": hooks}
	}
	calls, replies, admin, timeline := []evidenceEntryJSON{}, []replyJSON{}, []adminActionJSON{}, []evidenceEntryJSON{}
	for _, e := range ev.Activity {
		j := evidenceEntry(e)
		timeline = append(timeline, j)
		verdict, reply := replyVerdicts[e.Kind]
		switch {
		case e.Action() == gate.ActionWebhookCalled || e.Action() == gate.ActionWebhookFailed:
			calls = append(calls, j)
		case reply:
			replies = append(replies, replyJSON{j, verdict, mode(e.Kind == gate.KindShadowEligible || e.Kind == gate.KindShadowNotEligible)})
		case e.Actor != "":
			admin = append(admin, adminActionJSON{j, nullable(e.Reason)})
		}
	}
	return map[string]any{"generated_at": at, "request": toRequestJSON(ev.Request), "runs": runs, "calls": calls,
		"replies": replies, "admin_actions": admin, "timeline": timeline}
}

func requestEvidence(u *gate.Requests) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		ev, err := u.Evidence(ctx, r.Path("id"), r.Caller.ClientID)
		if err != nil {
			return Response{}, err
		}
		return OK(evidenceOf(ev, gate.FormatTime(now())))
	}
}

// exportHeader is the header row every export page repeats.
var exportHeader = []string{"id", "status", "policy_key", "created_at", "due_date", "decided_at", "decided_by", "webhooks"}

func exportRequests(u *gate.Requests) HandlerFunc {
	return func(ctx context.Context, r *Request) (Response, error) {
		size, err := offsetQueryInt(r, "size", gate.DefaultExportSize, 1, gate.MaxExportSize)
		if err != nil {
			return Response{}, err
		}
		page, err := u.Export(ctx, gate.ExportParams{CreatedFrom: r.Query("created_from"), CreatedTo: r.Query("created_to"),
			Status: r.Query("status"), Size: size, Cursor: r.Query("cursor"), Actor: r.Caller.ClientID})
		if err != nil {
			return Response{}, err
		}
		var b strings.Builder
		w := csv.NewWriter(&b)
		_ = w.Write(exportHeader)
		for _, pr := range page.Items {
			_ = w.Write(exportRow(pr))
		}
		w.Flush()
		headers := map[string]string{"Content-Type": "text/csv; charset=utf-8"}
		if page.NextCursor != "" {
			headers["X-Next-Cursor"] = page.NextCursor
		}
		return Response{Status: http.StatusOK, Headers: headers, Raw: []byte(b.String())}, nil
	}
}

func exportRow(r *gate.PrivacyRequest) []string {
	hooks := make([]string, len(r.Webhooks))
	for i, w := range r.Webhooks {
		hooks[i] = w.Key + ":" + string(w.State())
		if w.Shadow() {
			hooks[i] += " (shadow)" // recorded, never counted toward the decision
		}
	}
	decidedAt, decidedBy := "", ""
	switch {
	case r.ReviewedAt != nil && (r.Status == gate.StatusApproved || r.Status == gate.StatusDenied):
		decidedAt, decidedBy = gate.FormatTime(*r.ReviewedAt), r.ReviewedBy
	case r.ApprovedAt != nil:
		decidedAt = gate.FormatTime(*r.ApprovedAt) // automatic: no one decided
	}
	due := ""
	if r.DueDate != nil {
		due = gate.FormatTime(*r.DueDate)
	}
	return []string{r.ID, string(r.Status), r.PolicyKey, gate.FormatTime(r.CreatedAt), due, decidedAt, decidedBy, strings.Join(hooks, ";")}
}
