package dynamo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

var (
	_ gate.ReconcileStore = (*RequestStore)(nil)
	_ gate.PublishStore   = (*RequestStore)(nil)
)

// Due reads the due index: each of the 16 shards for up to limit keys due
// at or before now (after the key `after`), oldest first, following
// LastEvaluatedKey; merged, oldest due first, the first limit.
func (s *RequestStore) Due(ctx context.Context, now time.Time, after string, limit int) ([]gate.DueEntry, error) {
	from, err := cursorNumber(after)
	if err != nil {
		return nil, err
	}
	var keys []indexKey
	for _, sh := range shards() {
		got, err := s.queryNumberKeys(ctx, &dynamodb.QueryInput{
			TableName: &s.table, IndexName: aws.String(indexDue),
			KeyConditionExpression:   aws.String(dueCondition),
			ExpressionAttributeNames: exprNames(dueCondition),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":s": stringValue(sh), ":lo": number(from), ":hi": micros(now),
			},
			ScanIndexForward: aws.Bool(true),
		}, attrDue, limit, after)
		if err != nil {
			return nil, err
		}
		keys = append(keys, got...)
	}
	sort.Slice(keys, func(i, j int) bool { return numberKeyLess(keys[i].sort, keys[j].sort) })
	keys = keys[:min(limit, len(keys))]
	out := make([]gate.DueEntry, len(keys))
	for i, k := range keys {
		at, _ := cursorNumber(k.sort)
		out[i] = gate.DueEntry{ID: k.id, DueAt: time.UnixMicro(at).UTC(), Key: k.sort}
	}
	return out, nil
}

const dueCondition = "#shard = :s AND #due BETWEEN :lo AND :hi"

// Postpone is one conditional UpdateItem:
//
//	SET #due = :to   (or REMOVE #due)
//	CONDITION #status = :st AND #due = :from
func (s *RequestStore) Postpone(ctx context.Context, id string, st gate.Status, from time.Time, to *time.Time) error {
	values := map[string]types.AttributeValue{":st": stringValue(string(st)), ":from": micros(from)}
	update := "REMOVE #due"
	if to != nil {
		update = "SET #due = :to"
		values[":to"] = micros(*to)
	}
	const cond = "#status = :st AND #due = :from"
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: requestKey(id),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  exprNames(update, cond),
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return &gate.ConflictError{Msg: fmt.Sprintf("privacy request %s moved since it was read", id)}
	}
	if err != nil {
		return fmt.Errorf("postpone request %s: %w", id, err)
	}
	return nil
}

const (
	claimUpdate    = "SET #claim = :token, #claim_until = :until"
	claimCondition = "#status = :approved AND attribute_not_exists(#published)" +
		" AND (attribute_not_exists(#claim) OR #claim = :token OR #claim_until <= :now)"
)

// ClaimPublish is one conditional UpdateItem:
//
//	SET #claim = :token, #claim_until = :until
//	CONDITION #status = :approved AND attribute_not_exists(#published)
//	  AND (attribute_not_exists(#claim) OR #claim = :token OR #claim_until <= :now)
//
// It leaves the due key where the approval put it (no later than a minute
// after the approval): a claimant that never marks the request leaves it to
// the reconciler, whose own claim succeeds once this one has ended.
func (s *RequestStore) ClaimPublish(ctx context.Context, id string, c gate.PublishClaim, now time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: requestKey(id),
		UpdateExpression:         aws.String(claimUpdate),
		ConditionExpression:      aws.String(claimCondition),
		ExpressionAttributeNames: exprNames(claimUpdate, claimCondition),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":approved": stringValue(string(gate.StatusApproved)), ":token": stringValue(c.Token),
			":until": micros(c.Until), ":now": micros(now),
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return &gate.ConflictError{Msg: fmt.Sprintf("privacy request %s is not approved, already published or being published", id)}
	}
	if err != nil {
		return fmt.Errorf("claim publication of request %s: %w", id, err)
	}
	return nil
}

const (
	markUpdate    = "SET #published = :at REMOVE #due, #claim, #claim_until"
	markCondition = "#status = :approved AND attribute_not_exists(#published)"
)

// MarkPublished is one conditional UpdateItem:
//
//	SET #published = :at REMOVE #due, #claim, #claim_until
//	CONDITION #status = :approved AND attribute_not_exists(#published)
func (s *RequestStore) MarkPublished(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: requestKey(id),
		UpdateExpression:         aws.String(markUpdate),
		ConditionExpression:      aws.String(markCondition),
		ExpressionAttributeNames: exprNames(markUpdate, markCondition),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":approved": stringValue(string(gate.StatusApproved)), ":at": micros(at),
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return &gate.ConflictError{Msg: fmt.Sprintf("privacy request %s is already marked published", id)}
	}
	if err != nil {
		return fmt.Errorf("mark request %s published: %w", id, err)
	}
	return nil
}
