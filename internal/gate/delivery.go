package gate

import (
	"context"
	"strconv"
)

// Delivery is one call of one webhook for one request. Its ID stays the same
// across every retry, so a validator can deduplicate (webhook-id header).
// Run is the pre-approval run it was made for (PrivacyRequest.Run).
type Delivery struct {
	ID               string
	PrivacyRequestID string
	WebhookKey       string
	Run              int
}

// DeliveryID is "<request id>:<webhook key>": one delivery per webhook of a snapshot.
func DeliveryID(requestID, webhookKey string) string { return requestID + ":" + webhookKey }

// RunDeliveryID is the delivery id of one webhook in pre-approval run run:
// DeliveryID for the first run, "<request id>:<webhook key>:<run>" for a
// re-run, so that a validator deduplicating on webhook-id takes a re-run's
// call as a new one, not as a retry of the call it already answered.
func RunDeliveryID(requestID, webhookKey string, run int) string {
	if run == 0 {
		return DeliveryID(requestID, webhookKey)
	}
	return DeliveryID(requestID, webhookKey) + ":" + strconv.Itoa(run)
}

// DeliveryQueue hands deliveries to the dispatcher.
type DeliveryQueue interface {
	EnqueueDeliveries(ctx context.Context, ds []Delivery) error
}
