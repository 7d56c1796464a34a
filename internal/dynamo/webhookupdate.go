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

// webhookUpdate is the shape replies and deliveries share: timeline entries
// appended, updated_at set, plus the caller's clauses, as one UpdateItem
// whose condition is the caller's clauses ANDed (docs/storage.md).
type webhookUpdate struct {
	id       string
	at       time.Time
	activity []gate.ActivityEntry
	set      []string // extra SET clauses
	remove   []string // REMOVE clauses
	cond     []string // ANDed; attribute_exists(id) is always among them
	values   map[string]types.AttributeValue
	what     string // for error messages, e.g. "record reply"
	// returnNew asks for the item after the write (replies decide on it).
	returnNew bool
}

// webhookPath is "webhooks[i]" for a list index taken from the read snapshot.
func webhookPath(i int) string { return "webhooks[" + strconv.Itoa(i) + "]" }

// updateWebhooks makes u and returns the item after it (when u.returnNew); a refused condition
// is a *gate.ConflictError.
func (s *RequestStore) updateWebhooks(ctx context.Context, u webhookUpdate) (map[string]types.AttributeValue, error) {
	activity, err := attributevalue.Marshal(toActivityItems(u.activity, itemRefs{}))
	if err != nil {
		return nil, fmt.Errorf("marshal activity: %w", err)
	}
	set := append([]string{"updated_at = :at", "activity = list_append(if_not_exists(activity, :none), :activity)"}, u.set...)
	cond := append([]string{"attribute_exists(id)"}, u.cond...)
	values := map[string]types.AttributeValue{
		":at":       &types.AttributeValueMemberS{Value: gate.FormatTime(u.at)},
		":activity": activity,
		":none":     &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
	}
	for k, v := range u.values {
		values[k] = v
	}
	names := map[string]string{}
	expr := strings.Join(set, ", ") + " " + strings.Join(cond, " ")
	for name, attr := range map[string]string{"#status": "status", "#key": "key"} {
		if strings.Contains(expr, name) {
			names[name] = attr
		}
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: u.id}},
		UpdateExpression:          aws.String(updateExpression(set, u.remove)),
		ConditionExpression:       aws.String(strings.Join(cond, " AND ")),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}
	if u.returnNew {
		in.ReturnValues = types.ReturnValueAllNew
	}
	out, err := s.db.UpdateItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil, &gate.ConflictError{Msg: fmt.Sprintf("privacy request %s changed since it was read", u.id)}
	}
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", u.what, u.id, itemSizeError(err, u.what+" on "+u.id))
	}
	return out.Attributes, nil
}

func stringValue(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
