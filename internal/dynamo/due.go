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
	// Every due key is "<time>#pri_<uuid>" of one length, so no key has
	// another as a prefix: the keys after `after` are those at or above
	// after+"~", and those due by now are below "<now>#~".
	cond := "due_shard = :s AND due_at < :hi"
	values := map[string]types.AttributeValue{":hi": stringValue(gate.FormatTime(now) + "#~")}
	if after != "" {
		cond = "due_shard = :s AND due_at BETWEEN :lo AND :hi"
		values[":lo"] = stringValue(after + "~")
	}
	var keys []indexKey
	for _, sh := range shards() {
		vals := map[string]types.AttributeValue{":s": stringValue(sh)}
		for k, v := range values {
			vals[k] = v
		}
		got, err := s.queryKeys(ctx, &dynamodb.QueryInput{
			TableName: &s.table, IndexName: aws.String(indexDue),
			KeyConditionExpression: aws.String(cond), ExpressionAttributeValues: vals,
			ScanIndexForward: aws.Bool(true),
		}, "due_at", limit)
		if err != nil {
			return nil, err
		}
		keys = append(keys, got...)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].sort < keys[j].sort })
	keys = keys[:min(limit, len(keys))]
	out := make([]gate.DueEntry, len(keys))
	for i, k := range keys {
		at, err := dueTime(k.sort)
		if err != nil {
			return nil, fmt.Errorf("due index key %q: %w", k.sort, err)
		}
		out[i] = gate.DueEntry{ID: k.id, DueAt: at, Key: k.sort}
	}
	return out, nil
}

// Postpone is one conditional UpdateItem:
//
//	SET due_shard = :shard, due_at = :to   (or REMOVE due_shard, due_at)
//	CONDITION #status = :st AND due_at = :from
func (s *RequestStore) Postpone(ctx context.Context, id string, st gate.Status, from time.Time, to *time.Time) error {
	values := map[string]types.AttributeValue{
		":st": stringValue(string(st)), ":from": stringValue(dueKey(from, id)),
	}
	update := "REMOVE due_shard, due_at"
	if to != nil {
		update = "SET due_shard = :shard, due_at = :to"
		values[":shard"], values[":to"] = stringValue(shard(id)), stringValue(dueKey(*to, id))
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: map[string]types.AttributeValue{"id": stringValue(id)},
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("#status = :st AND due_at = :from"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
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

// ClaimPublish is one conditional UpdateItem:
//
//	SET publish_claim = :token, publish_claim_until = :until, due_shard = :shard, due_at = :due
//	CONDITION #status = :approved AND attribute_not_exists(published_at)
//	  AND (attribute_not_exists(publish_claim) OR publish_claim = :token OR publish_claim_until <= :now)
//
// Times are stored RFC 3339 with microseconds, all of one length, so the
// string comparison is the time's. due_at moves to the claim's end: the
// reconciler takes the request up again if the claimant never marks it.
func (s *RequestStore) ClaimPublish(ctx context.Context, id string, c gate.PublishClaim, now time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: map[string]types.AttributeValue{"id": stringValue(id)},
		UpdateExpression: aws.String("SET publish_claim = :token, publish_claim_until = :until, due_shard = :shard, due_at = :due"),
		ConditionExpression: aws.String("#status = :approved AND attribute_not_exists(published_at)" +
			" AND (attribute_not_exists(publish_claim) OR publish_claim = :token OR publish_claim_until <= :now)"),
		ExpressionAttributeNames: map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":approved": stringValue(string(gate.StatusApproved)), ":token": stringValue(c.Token),
			":until": stringValue(gate.FormatTime(c.Until)), ":now": stringValue(gate.FormatTime(now)),
			":shard": stringValue(shard(id)), ":due": stringValue(dueKey(c.Until, id)),
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

// MarkPublished is one conditional UpdateItem:
//
//	SET published_at = :at REMOVE due_shard, due_at, publish_claim, publish_claim_until
//	CONDITION #status = :approved AND attribute_not_exists(published_at)
func (s *RequestStore) MarkPublished(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: map[string]types.AttributeValue{"id": stringValue(id)},
		UpdateExpression:         aws.String("SET published_at = :at REMOVE due_shard, due_at, publish_claim, publish_claim_until"),
		ConditionExpression:      aws.String("#status = :approved AND attribute_not_exists(published_at)"),
		ExpressionAttributeNames: map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":approved": stringValue(string(gate.StatusApproved)), ":at": stringValue(gate.FormatTime(at)),
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
