package dynamo

import (
	"context"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

var _ gate.DeliveryStore = (*RequestStore)(nil)

// RecordDelivery is one conditional UpdateItem: the webhook's state and
// attempts, the status (changed or not) and the timeline entries, only while
// the item still has the version the decision was made on.
func (s *RequestStore) RecordDelivery(ctx context.Context, w gate.DeliveryWrite) error {
	return s.updateWebhook(ctx, webhookUpdate{
		id: w.ID, key: w.WebhookKey, version: w.Version, index: w.WebhookIndex, to: w.To, at: w.At, activity: w.Activity,
		set: []string{"{w}.#state = :state", "{w}.attempts = :attempts"},
		values: map[string]types.AttributeValue{
			":state":    &types.AttributeValueMemberS{Value: string(w.State)},
			":attempts": &types.AttributeValueMemberN{Value: strconv.Itoa(w.Attempts)},
		},
		what: "record delivery",
	})
}
