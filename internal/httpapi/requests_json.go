package httpapi

import (
	"time"

	"github.com/pregate/pregate/internal/gate"
)

// requestJSON is a privacy request in responses.
type requestJSON struct {
	ID                 string             `json:"id"`
	Status             string             `json:"status"`
	PolicyKey          string             `json:"policy_key"`
	PolicyAction       string             `json:"policy_action"`
	Identity           identityJSON       `json:"identity"`
	ExternalID         *string            `json:"external_id"`
	CreatedAt          string             `json:"created_at"`
	UpdatedAt          string             `json:"updated_at"`
	IdentityVerifiedAt *string            `json:"identity_verified_at"`
	ReviewedAt         *string            `json:"reviewed_at"`
	ReviewedBy         *string            `json:"reviewed_by"`
	Webhooks           []webhookStateJSON `json:"webhooks"`
	DueDate            *string            `json:"due_date"`
	DaysLeft           *int               `json:"days_left"`
}

type identityJSON struct {
	Email       *string `json:"email"`
	PhoneNumber *string `json:"phone_number"`
}

type webhookStateJSON struct {
	Key      string `json:"key"`
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	Mode     string `json:"mode"`
}

type activityJSON struct {
	At         string  `json:"at"`
	Action     string  `json:"action"`
	Message    *string `json:"message"`
	WebhookKey *string `json:"webhook_key"`
	Actor      *string `json:"actor"`
}

type failureJSON struct {
	Message string         `json:"message"`
	Data    map[string]any `json:"data"`
}

// nullable turns "" into JSON null.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := gate.FormatTime(*t)
	return &s
}

// now is the clock days_left is counted from (a variable for tests).
var now = time.Now

func toRequestJSON(r *gate.PrivacyRequest) requestJSON {
	out := requestJSON{
		ID: r.ID, Status: string(r.Status), PolicyKey: r.PolicyKey, PolicyAction: r.PolicyAction,
		Identity:   identityJSON{Email: nullable(r.Identity.Email), PhoneNumber: nullable(r.Identity.PhoneNumber)},
		ExternalID: nullable(r.ExternalID), CreatedAt: gate.FormatTime(r.CreatedAt), UpdatedAt: gate.FormatTime(r.UpdatedAt),
		IdentityVerifiedAt: optTime(r.IdentityVerifiedAt), ReviewedAt: optTime(r.ReviewedAt), ReviewedBy: nullable(r.ReviewedBy),
		Webhooks: make([]webhookStateJSON, len(r.Webhooks)),
	}
	for i, w := range r.Webhooks {
		out.Webhooks[i] = webhookStateJSON{Key: w.Key, State: string(w.State()), Attempts: w.Attempts, Mode: string(w.Mode)}
	}
	if r.DueDate != nil {
		left := gate.DaysLeft(*r.DueDate, now())
		out.DueDate, out.DaysLeft = optTime(r.DueDate), &left
	}
	return out
}

func bulkJSON(res gate.BulkResult) map[string]any {
	succeeded := make([]requestJSON, len(res.Succeeded))
	for i, r := range res.Succeeded {
		succeeded[i] = toRequestJSON(r)
	}
	return map[string]any{"succeeded": succeeded, "failed": failuresJSON(res.Failed)}
}

func failuresJSON(fs []gate.Failure) []failureJSON {
	out := make([]failureJSON, len(fs))
	for i, f := range fs {
		out[i] = failureJSON{Message: f.Message, Data: f.Data}
	}
	return out
}
