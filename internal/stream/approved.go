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
)

// Approved publishes one approved-queue message for each request that
// becomes approved: a record whose old image is not approved and whose new
// image is. The request's durable published mark makes it once: a record
// replayed after the mark (days later, past the queue's deduplication
// window) publishes nothing (gate.Publisher).
type Approved struct {
	Queue gate.ApprovedPublisher
	// Store reads and sets the published mark.
	Store gate.PublishStore
	Now   func() time.Time // time.Now when nil
	Log   *slog.Logger
}

// Handle looks at one stream record.
func (a *Approved) Handle(ctx context.Context, rec events.DynamoDBEventRecord) error {
	img := rec.Change.NewImage
	if str(img, "status") != string(gate.StatusApproved) || str(rec.Change.OldImage, "status") == string(gate.StatusApproved) {
		return nil
	}
	id := str(img, "id")
	if str(img, "published_at") != "" {
		return nil
	}
	at, err := time.Parse(time.RFC3339Nano, str(img, "approved_at"))
	if err != nil {
		return fmt.Errorf("request %s: approved_at: %w", id, err)
	}
	m := gate.ApprovedMessage{PrivacyRequestID: id, PolicyAction: str(img, "policy_action"), ApprovedAt: at, ApprovedBy: str(img, "approved_by")}
	now := a.Now
	if now == nil {
		now = time.Now
	}
	p := &gate.Publisher{Store: a.Store, Queue: a.Queue, Now: now, Log: a.Log}
	_, err = p.Publish(ctx, m)
	return err
}

// str reads a string attribute of an image ("" when absent or not a string).
func str(img map[string]events.DynamoDBAttributeValue, name string) string {
	v, ok := img[name]
	if !ok || v.DataType() != events.DataTypeString {
		return ""
	}
	return v.String()
}
