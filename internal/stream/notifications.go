package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

// Notifications tells the admins of each request that comes to need them:
// it enters pending or pre_approval_not_eligible, from submission,
// verification, a failed delivery, the review deadline or a reply. It is
// the handler's last step, so a retried record repeats no notification
// unless this very step failed; delivery is at least once, as SNS's is.
type Notifications struct {
	Notifier gate.Notifier
	Links    gate.ConsoleLinks
	Now      func() time.Time
}

// Handle looks at one stream record.
func (n *Notifications) Handle(ctx context.Context, rec events.DynamoDBEventRecord) error {
	img := rec.Change.NewImage
	to := gate.Status(str(img, dynamo.AttrStatus))
	if !needsAdmin(gate.Status(str(rec.Change.OldImage, dynamo.AttrStatus)), to) {
		return nil
	}
	id := str(img, dynamo.AttrID)
	if err := n.Notifier.Notify(ctx, gate.NeedsReview(n.Links, id, to, n.Now().UTC())); err != nil {
		return fmt.Errorf("request %s: notify the admins: %w", id, err)
	}
	return nil
}

// needsAdmin reports whether a move from one status to another leaves the
// request waiting for an admin's decision (from "" on an insert).
func needsAdmin(from, to gate.Status) bool {
	return from != to && (to == gate.StatusPending || to == gate.StatusPreApprovalNotEligible)
}
