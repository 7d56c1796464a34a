// Package stream reacts to changes of privacy requests, as DynamoDB Streams
// reports them on the requests table.
package stream

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/dynamo"
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
	if str(img, dynamo.AttrStatus) != string(gate.StatusApproved) || str(rec.Change.OldImage, dynamo.AttrStatus) == string(gate.StatusApproved) {
		return nil
	}
	id := str(img, dynamo.AttrID)
	if _, published := num(img, dynamo.AttrPublishedAt); published {
		return nil
	}
	at, err := microsTime(img, dynamo.AttrApprovedAt)
	if err != nil {
		return fmt.Errorf("request %s: approval time: %w", id, err)
	}
	m := gate.ApprovedMessage{PrivacyRequestID: id, PolicyAction: str(img, dynamo.AttrPolicyAct), ApprovedAt: at, ApprovedBy: str(img, dynamo.AttrApprovedBy)}
	now := a.Now
	if now == nil {
		now = time.Now
	}
	p := &gate.Publisher{Store: a.Store, Queue: a.Queue, Now: now, Log: a.Log}
	_, err = p.Publish(ctx, m)
	return err
}

// microsTime reads a time stored as unix microseconds.
func microsTime(img map[string]events.DynamoDBAttributeValue, name string) (time.Time, error) {
	n, ok := num(img, name)
	if !ok {
		return time.Time{}, fmt.Errorf("%s is not a number", name)
	}
	us, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMicro(us).UTC(), nil
}

// str reads a string attribute of an image ("" when absent or not a string).
func str(img map[string]events.DynamoDBAttributeValue, name string) string {
	v, ok := img[name]
	if !ok || v.DataType() != events.DataTypeString {
		return ""
	}
	return v.String()
}
