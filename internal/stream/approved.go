// Package stream reacts to changes of privacy requests, as DynamoDB Streams
// reports them on the requests table.
package stream

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/logkey"
)

// Approved publishes one approved-queue message for each request that
// becomes approved: a record whose old image is not approved and whose new
// image is. A replayed record publishes again; the queue drops the duplicate.
type Approved struct {
	Queue gate.ApprovedPublisher
	Log   *slog.Logger
}

// Handle looks at one stream record.
func (a *Approved) Handle(ctx context.Context, rec events.DynamoDBEventRecord) error {
	img := rec.Change.NewImage
	if str(img, "status") != string(gate.StatusApproved) || str(rec.Change.OldImage, "status") == string(gate.StatusApproved) {
		return nil
	}
	id := str(img, "id")
	at, err := time.Parse(time.RFC3339Nano, str(img, "approved_at"))
	if err != nil {
		return fmt.Errorf("request %s: approved_at: %w", id, err)
	}
	m := gate.ApprovedMessage{PrivacyRequestID: id, PolicyAction: str(img, "policy_action"), ApprovedAt: at, ApprovedBy: str(img, "approved_by")}
	if err := a.Queue.PublishApproved(ctx, m); err != nil {
		return err
	}
	a.Log.InfoContext(ctx, "approved request queued", logkey.PrivacyRequestID, id, "policy_action", m.PolicyAction)
	return nil
}

// str reads a string attribute of an image ("" when absent or not a string).
func str(img map[string]events.DynamoDBAttributeValue, name string) string {
	v, ok := img[name]
	if !ok || v.DataType() != events.DataTypeString {
		return ""
	}
	return v.String()
}
