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

// ReindexResult counts what Reindex did.
type ReindexResult struct {
	Scanned, Updated, Moved int // Moved: changed by another writer meanwhile (left to it)
}

// Reindex gives every request stored before the sharded indexes existed its
// index attributes (docs/storage.md, "Upgrading a stack"): created_shard,
// status_shard, and due_* for the statuses the system owes a step, due
// now+grace so the reconciler looks at them soon. An approved request is
// marked published at its approval (the stream published it then), so the
// reconciler does not send old approvals again. Each item is one
// conditional UpdateItem on the status read and on status_shard being
// absent, so a request a running function moved or wrote meanwhile (which
// then has its attributes) is left alone. Running it again does nothing.
func (s *RequestStore) Reindex(ctx context.Context, now time.Time) (ReindexResult, error) {
	var res ReindexResult
	in := &dynamodb.ScanInput{
		TableName:                aws.String(s.table),
		ProjectionExpression:     aws.String("id, #status, created_at, approved_at, status_shard"),
		ExpressionAttributeNames: map[string]string{"#status": "status"},
	}
	for {
		page, err := s.db.Scan(ctx, in)
		if err != nil {
			return res, fmt.Errorf("scan requests: %w", err)
		}
		for _, av := range page.Items {
			if _, request := av["status"]; !request {
				continue // an archived run (archive.go)
			}
			res.Scanned++
			if _, done := av["status_shard"]; done {
				continue
			}
			moved, err := s.reindexOne(ctx, av, now)
			if err != nil {
				return res, err
			}
			if moved {
				res.Moved++
			} else {
				res.Updated++
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			return res, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

func (s *RequestStore) reindexOne(ctx context.Context, av map[string]types.AttributeValue, now time.Time) (bool, error) {
	text := func(name string) string {
		v, _ := av[name].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	id, st := text("id"), gate.Status(text("status"))
	values := map[string]types.AttributeValue{
		":st": stringValue(string(st)), ":created_shard": stringValue(shard(id)),
		":sort_key": stringValue(text("created_at") + "#" + id), ":status_shard": stringValue(statusShard(st, id)),
	}
	set := []string{"created_shard = :created_shard", "sort_key = :sort_key", "status_shard = :status_shard"}
	if st == gate.StatusApproved {
		// Published by the stream when it was approved: marked, not due.
		at := text("approved_at")
		if at == "" {
			at = gate.FormatTime(now)
		}
		set = append(set, "published_at = :published_at")
		values[":published_at"] = stringValue(at)
	} else if due, ok := gate.FirstDue(st, now, s.reconcileAfter); ok {
		set = append(set, "due_shard = :due_shard", "due_at = :due_at")
		values[":due_shard"], values[":due_at"] = stringValue(shard(id)), stringValue(dueKey(due, id))
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: map[string]types.AttributeValue{"id": stringValue(id)},
		UpdateExpression:          aws.String(updateExpression(set, nil)),
		ConditionExpression:       aws.String("#status = :st AND attribute_not_exists(status_shard)"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("reindex request %s: %w", id, err)
	}
	return false, nil
}
