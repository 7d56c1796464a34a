package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

var _ gate.TestStore = (*DeliveryLog)(nil)

// A test call is one item of the delivery-log table, "T#<test id>", "T",
// apart from every webhook's log and counts; it expires gate.TestRetention
// after it was sent.
func testKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str("T#" + id), "sk": str("T")}
}

// CreateTest writes a new test call.
func (l *DeliveryLog) CreateTest(ctx context.Context, t gate.TestCall) error {
	item := testKey(t.ID)
	item["w"], item["at"] = str(t.WebhookKey), str(gate.FormatTime(t.CreatedAt))
	item["expires_at"] = expiry(t.CreatedAt.Add(gate.TestRetention))
	_, err := l.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &l.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	return conditional(err, "create test call "+t.ID)
}

// GetTest reads a test call; one past its retention is gone, whether
// DynamoDB has deleted it yet or not.
func (l *DeliveryLog) GetTest(ctx context.Context, id string) (gate.TestCall, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &l.table, Key: testKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return gate.TestCall{}, fmt.Errorf("get test call %s: %w", id, err)
	}
	it := out.Item
	created, _ := time.Parse(time.RFC3339Nano, stringAttr(it, "at"))
	if it == nil || time.Since(created) > gate.TestRetention {
		return gate.TestCall{}, &gate.NotFoundError{Msg: "test call " + id + " not found"}
	}
	t := gate.TestCall{ID: id, WebhookKey: stringAttr(it, "w"), CreatedAt: created, Call: stringAttr(it, "c"),
		HTTPStatus: int(numberAttr(it, "hs")), Latency: time.Duration(numberAttr(it, "ms")) * time.Millisecond,
		Error: stringAttr(it, "e"), Reply: gate.WebhookState(stringAttr(it, "r"))}
	if ra := stringAttr(it, "ra"); ra != "" {
		at, _ := time.Parse(time.RFC3339Nano, ra)
		t.RepliedAt = &at
	}
	return t, nil
}

// RecordTestCall records how the call ended; the reply, if any, stays.
func (l *DeliveryLog) RecordTestCall(ctx context.Context, t gate.TestCall) error {
	values := map[string]types.AttributeValue{":c": str(t.Call), ":hs": number(int64(t.HTTPStatus)),
		":ms": number(t.Latency.Milliseconds()), ":e": str(t.Error)}
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &l.table, Key: testKey(t.ID), ConditionExpression: aws.String("attribute_exists(pk)"),
		UpdateExpression: aws.String("SET c = :c, hs = :hs, ms = :ms, e = :e"), ExpressionAttributeValues: values,
	})
	return conditional(err, "record test call "+t.ID)
}

// RecordTestReply records the first answer of the test's own webhook.
func (l *DeliveryLog) RecordTestReply(ctx context.Context, id, webhookKey string, answer gate.WebhookState, at time.Time) error {
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &l.table, Key: testKey(id),
		ConditionExpression:                 aws.String("attribute_exists(pk) AND w = :w AND attribute_not_exists(r)"),
		UpdateExpression:                    aws.String("SET r = :r, ra = :ra"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":w": str(webhookKey), ":r": str(string(answer)), ":ra": str(gate.FormatTime(at))},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) && ccf.Item == nil {
		return &gate.NotFoundError{Msg: "test call " + id + " not found"}
	}
	return conditional(err, "record reply to test call "+id)
}
