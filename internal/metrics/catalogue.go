package metrics

import (
	"time"

	"github.com/pregate/pregate/internal/logkey"
)

// The metrics the gate emits. template.yaml's DeliveryFailureRateAlarm and
// docs/operate.md's metrics table name the same metrics and dimensions.
const (
	Deliveries      = "Deliveries"      // Count, per outcome (and per webhook_key)
	DeliveryLatency = "DeliveryLatency" // Milliseconds, one attempt from receive to recorded outcome
	Replies         = "Replies"         // Count, per answer and outcome
	Decisions       = "Decisions"       // Count, per decision
)

// Dimension names. webhook_key is also a log key, so a metric and the log
// lines behind it are queried by the same name.
const (
	DimOutcome    = "outcome"
	DimWebhookKey = logkey.WebhookKey
	DimAnswer     = "answer"
	DimDecision   = "decision"
)

// DeliveryError is the outcome of an attempt that failed on our side
// (storage, keys); the other outcomes are gate.OutcomeKind's values.
const DeliveryError = "error"

// Reply outcomes.
const (
	ReplyAccepted = "accepted"
	ReplyRefused  = "refused"
)

// Delivery records one delivery attempt; outcome is gate.OutcomeKind's value
// (delivered, retry, failed, skipped) or DeliveryError for a fault of ours. The
// outcome-only dimension set is what the failure-rate alarm reads; the one
// with webhook_key shows which validator is failing.
func (e *Emitter) Delivery(privacyRequestID, webhookKey, outcome string, latency time.Duration) {
	e.Emit(Line{
		Dimensions: [][]string{{DimOutcome}, {DimWebhookKey, DimOutcome}},
		Properties: map[string]string{DimOutcome: outcome, DimWebhookKey: webhookKey, logkey.PrivacyRequestID: privacyRequestID},
		Metrics: []Metric{
			{Name: Deliveries, Unit: Count, Value: 1},
			{Name: DeliveryLatency, Unit: Milliseconds, Value: float64(latency.Microseconds()) / 1000},
		},
	})
}

// Reply records one validator reply: answer is eligible or not_eligible,
// accepted whether the gate recorded it (any error answer counts as refused).
func (e *Emitter) Reply(privacyRequestID, answer string, accepted bool) {
	outcome := ReplyRefused
	if accepted {
		outcome = ReplyAccepted
	}
	e.Emit(Line{
		Dimensions: [][]string{{DimAnswer, DimOutcome}},
		Properties: map[string]string{DimAnswer: answer, DimOutcome: outcome, logkey.PrivacyRequestID: privacyRequestID},
		Metrics:    []Metric{{Name: Replies, Unit: Count, Value: 1}},
	})
}

// Decision records one privacy request reaching a decision (approved,
// auto_approved, not_eligible, pending_after_failure, denied).
func (e *Emitter) Decision(privacyRequestID, decision string) {
	e.Emit(Line{
		Dimensions: [][]string{{DimDecision}},
		Properties: map[string]string{DimDecision: decision, logkey.PrivacyRequestID: privacyRequestID},
		Metrics:    []Metric{{Name: Decisions, Unit: Count, Value: 1}},
	})
}
