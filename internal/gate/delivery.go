package gate

import "context"

// Delivery is one call of one webhook for one request. Its ID stays the same
// across every retry, so a validator can deduplicate (webhook-id header).
type Delivery struct {
	ID               string
	PrivacyRequestID string
	WebhookKey       string
}

// DeliveryID is "<request id>:<webhook key>": one delivery per webhook of a snapshot.
func DeliveryID(requestID, webhookKey string) string { return requestID + ":" + webhookKey }

// DeliveryQueue hands deliveries to the dispatcher.
type DeliveryQueue interface {
	EnqueueDeliveries(ctx context.Context, ds []Delivery) error
}
