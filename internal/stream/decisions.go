package stream

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/metrics"
)

// The decisions counted by the Decisions metric.
const (
	DecisionApproved             = "approved"               // by an admin
	DecisionAutoApproved         = "auto_approved"          // every webhook eligible, or no manual approval required
	DecisionNotEligible          = "not_eligible"           // a webhook replied not eligible: manual review
	DecisionPendingAfterFailure  = "pending_after_failure"  // a webhook failed for good: back to pending
	DecisionPendingAfterDeadline = "pending_after_deadline" // REVIEW_DEADLINE passed with webhooks silent
	DecisionDenied               = "denied"
)

// Decisions counts each request reaching a decision. The stream is where
// every status change is seen once per record, whichever function wrote it;
// but a record may be delivered again (and a failed batch is retried from
// its first failed record), so the counts are at least once, not exact.
type Decisions struct {
	Metrics *metrics.Emitter
}

// Handle looks at one stream record.
func (d *Decisions) Handle(_ context.Context, rec events.DynamoDBEventRecord) error {
	img := rec.Change.NewImage
	if dec := decision(gate.Status(str(rec.Change.OldImage, dynamo.AttrStatus)), gate.Status(str(img, dynamo.AttrStatus)), str(img, dynamo.AttrApprovedBy), lastKind(img)); dec != "" {
		d.Metrics.Decision(str(img, dynamo.AttrID), dec)
	}
	return nil
}

// decision names the change from one status to another, "" when it is not
// a decision (or no change at all: a reply or an attempt recorded).
func decision(from, to gate.Status, approvedBy string, last gate.ActivityKind) string {
	if from == to {
		return ""
	}
	switch to {
	case gate.StatusApproved:
		if approvedBy != "" {
			return DecisionApproved
		}
		return DecisionAutoApproved
	case gate.StatusPreApprovalNotEligible:
		return DecisionNotEligible
	case gate.StatusDenied:
		return DecisionDenied
	case gate.StatusPending:
		if from != gate.StatusAwaitingPreApproval {
			return ""
		}
		if last == gate.KindDeadlinePassed {
			return DecisionPendingAfterDeadline
		}
		return DecisionPendingAfterFailure
	}
	return ""
}

// lastKind is the kind of the image's newest timeline entry (0 if none),
// stored as a number (internal/dynamo, activity.go).
func lastKind(img map[string]events.DynamoDBAttributeValue) gate.ActivityKind {
	act, ok := img[dynamo.AttrActivity]
	if !ok || act.DataType() != events.DataTypeList || len(act.List()) == 0 {
		return 0
	}
	last := act.List()[len(act.List())-1]
	if last.DataType() != events.DataTypeMap {
		return 0
	}
	k, ok := last.Map()[dynamo.AttrEntryKind]
	if !ok || k.DataType() != events.DataTypeNumber {
		return 0
	}
	n, err := k.Integer()
	if err != nil || n <= 0 || n > 255 {
		return 0
	}
	return gate.ActivityKind(n)
}
