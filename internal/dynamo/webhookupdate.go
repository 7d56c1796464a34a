package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

// webhookUpdate is the write replies and deliveries share: one snapshot
// webhook's fields, the status (changed or not) and timeline entries, as one
// UpdateItem conditioned on the version the decision was made on.
type webhookUpdate struct {
	id, key  string
	version  int64
	index    int
	to       gate.Status
	at       time.Time
	activity []gate.ActivityEntry
	// set adds "webhooks[i].<field> = <value>" clauses (the caller's own fields);
	// "{w}" in them stands for "webhooks[i]".
	set    []string
	values map[string]types.AttributeValue
	// cond is ANDed to the version and key condition ("" for none).
	cond string
	what string // for error messages, e.g. "record reply"
}

func (s *RequestStore) updateWebhook(ctx context.Context, u webhookUpdate) error {
	activity, err := attributevalue.Marshal(toActivityItems(u.activity))
	if err != nil {
		return fmt.Errorf("marshal activity: %w", err)
	}
	w := "webhooks[" + strconv.Itoa(u.index) + "]"
	set := "SET #status = :to, updated_at = :at, activity = list_append(if_not_exists(activity, :none), :activity), version = version + :one"
	for _, clause := range u.set {
		set += ", " + strings.ReplaceAll(clause, "{w}", w)
	}
	cond := "version = :version AND " + w + ".#key = :key"
	if u.cond != "" {
		cond += " AND " + u.cond
	}
	values := map[string]types.AttributeValue{
		":to":       &types.AttributeValueMemberS{Value: string(u.to)},
		":at":       &types.AttributeValueMemberS{Value: gate.FormatTime(u.at)},
		":activity": activity,
		":none":     &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		":one":      &types.AttributeValueMemberN{Value: "1"},
		":version":  &types.AttributeValueMemberN{Value: strconv.FormatInt(u.version, 10)},
		":key":      &types.AttributeValueMemberS{Value: u.key},
	}
	for k, v := range u.values {
		values[k] = v
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: u.id}},
		UpdateExpression:          aws.String(set),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#status": "status", "#state": "state", "#key": "key"},
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return &gate.ConflictError{Msg: fmt.Sprintf("privacy request %s changed since it was read", u.id)}
	}
	if err != nil {
		return fmt.Errorf("%s on %s: %w", u.what, u.id, err)
	}
	return nil
}
