package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

// webhookUpdate is the shape replies and deliveries share: timeline entries
// appended, the update time set, plus the caller's clauses, as one UpdateItem
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

// webhookPath is "#webhooks[i]" for a list index taken from the read snapshot.
func webhookPath(i int) string { return "#webhooks[" + strconv.Itoa(i) + "]" }

// updateWebhooks makes u and returns the item after it (when u.returnNew); a refused condition
// is a *gate.ConflictError.
func (s *RequestStore) updateWebhooks(ctx context.Context, u webhookUpdate) (map[string]types.AttributeValue, error) {
	set := append([]string{"#updated = :at", "#activity = list_append(if_not_exists(#activity, :none), :activity)"}, u.set...)
	cond := strings.Join(append([]string{"attribute_exists(#id)"}, u.cond...), " AND ")
	values := map[string]types.AttributeValue{
		":at":       micros(u.at),
		":activity": activityValue(u.activity, itemRefs{}),
		":none":     &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
	}
	for k, v := range u.values {
		values[k] = v
	}
	update := updateExpression(set, u.remove)
	in := &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       requestKey(u.id),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  exprNames(update, cond),
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
