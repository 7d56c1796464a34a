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

var _ gate.ReplyStore = (*RequestStore)(nil)

// RecordReply is one conditional UpdateItem: the webhook's state, the status
// (changed or not) and the timeline entries, only while the item still has
// the version the decision was made on. Recording the last eligible reply and
// approving is therefore one write; a lost race costs one re-read and retry.
func (s *RequestStore) RecordReply(ctx context.Context, w gate.ReplyWrite) error {
	activity, err := attributevalue.Marshal(toActivityItems(w.Activity))
	if err != nil {
		return fmt.Errorf("marshal activity: %w", err)
	}
	i := strconv.Itoa(w.WebhookIndex)
	set := "#status = :to, updated_at = :at, webhooks[" + i + "].#state = :state, webhooks[" + i + "].replied_at = :at, " +
		"activity = list_append(activity, :activity), version = version + :one"
	values := map[string]types.AttributeValue{
		":to":       &types.AttributeValueMemberS{Value: string(w.To)},
		":at":       &types.AttributeValueMemberS{Value: gate.FormatTime(w.At)},
		":state":    &types.AttributeValueMemberS{Value: string(w.State)},
		":activity": activity,
		":one":      &types.AttributeValueMemberN{Value: "1"},
		":version":  &types.AttributeValueMemberN{Value: strconv.FormatInt(w.Version, 10)},
		":key":      &types.AttributeValueMemberS{Value: w.WebhookKey},
		":pending":  &types.AttributeValueMemberS{Value: string(gate.StatusPending)},
		":awaiting": &types.AttributeValueMemberS{Value: string(gate.StatusAwaitingPreApproval)},
	}
	if w.To == gate.StatusApproved {
		set += ", approved_at = :at"
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        &s.table,
		Key:              map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: w.ID}},
		UpdateExpression: aws.String("SET " + set),
		// The version alone pins the whole item; the status and key checks are
		// belt and braces against a writer that forgot to bump it.
		ConditionExpression:       aws.String("version = :version AND #status IN (:pending, :awaiting) AND webhooks[" + i + "].#key = :key"),
		ExpressionAttributeNames:  map[string]string{"#status": "status", "#state": "state", "#key": "key"},
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return &gate.ConflictError{Msg: fmt.Sprintf("privacy request %s changed since it was read", w.ID)}
	}
	if err != nil {
		return fmt.Errorf("record reply on %s: %w", w.ID, err)
	}
	return nil
}
