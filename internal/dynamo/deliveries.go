package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

var _ gate.DeliveryStore = (*RequestStore)(nil)

// RecordDelivery is one conditional UpdateItem: the webhook's state and
// attempts, the status (changed or not) and the timeline entries, only while
// the item still has the version the decision was made on.
func (s *RequestStore) RecordDelivery(ctx context.Context, w gate.DeliveryWrite) error {
	activity, err := attributevalue.Marshal(toActivityItems(w.Activity))
	if err != nil {
		return fmt.Errorf("marshal activity: %w", err)
	}
	i := strconv.Itoa(w.WebhookIndex)
	set := "#status = :to, updated_at = :at, webhooks[" + i + "].#state = :state, webhooks[" + i + "].attempts = :attempts, " +
		"activity = list_append(if_not_exists(activity, :none), :activity), version = version + :one"
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.table,
		Key:                      map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: w.ID}},
		UpdateExpression:         aws.String("SET " + set),
		ConditionExpression:      aws.String("version = :version AND webhooks[" + i + "].#key = :key"),
		ExpressionAttributeNames: map[string]string{"#status": "status", "#state": "state", "#key": "key"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":to":       &types.AttributeValueMemberS{Value: string(w.To)},
			":at":       &types.AttributeValueMemberS{Value: gate.FormatTime(w.At)},
			":state":    &types.AttributeValueMemberS{Value: string(w.State)},
			":attempts": &types.AttributeValueMemberN{Value: strconv.Itoa(w.Attempts)},
			":activity": activity,
			":none":     &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
			":one":      &types.AttributeValueMemberN{Value: "1"},
			":version":  &types.AttributeValueMemberN{Value: strconv.FormatInt(w.Version, 10)},
			":key":      &types.AttributeValueMemberS{Value: w.WebhookKey},
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return &gate.ConflictError{Msg: fmt.Sprintf("privacy request %s changed since it was read", w.ID)}
	}
	if err != nil {
		return fmt.Errorf("record delivery on %s: %w", w.ID, err)
	}
	return nil
}
