package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

var _ gate.AccessLog = (*AccessLog)(nil)

// AccessLog keeps the access log in its own table: partition key the month
// of the entry ("2026-12"), sort key "<at>#<16 random hex>", expires_at
// (TTL) 400 days on. Entries are written by admins' own actions, so one
// month's partition takes far fewer than its 1,000 writes a second.
type AccessLog struct {
	db    *dynamodb.Client
	table string
	// months is how far back a listing looks: the retention, in months.
	months int
}

// NewAccessLog uses the access-log table named table.
func NewAccessLog(db *dynamodb.Client, table string) *AccessLog {
	return &AccessLog{db: db, table: table, months: int(gate.AccessLogRetention/(24*time.Hour))/28 + 1}
}

type accessItem struct {
	Month     string `dynamodbav:"month"`
	SK        string `dynamodbav:"sk"`
	Actor     string `dynamodbav:"actor"`
	Action    string `dynamodbav:"action"`
	RequestID string `dynamodbav:"privacy_request_id,omitempty"`
	Detail    string `dynamodbav:"detail,omitempty"`
	ExpiresAt int64  `dynamodbav:"expires_at"`
}

const monthLayout = "2006-01"

// accessTime is the time of an access-log key "<at>#<random>".
func accessTime(key string) (time.Time, error) {
	at, _, _ := strings.Cut(key, "#")
	return time.Parse(time.RFC3339Nano, at)
}

// Record puts one entry; its random key suffix makes it a new item, so the
// put is conditioned on the key being new.
func (l *AccessLog) Record(ctx context.Context, e gate.AccessEntry) error {
	var suffix [8]byte
	_, _ = rand.Read(suffix[:])
	at := e.At.UTC()
	av, err := attributevalue.MarshalMap(accessItem{
		Month: at.Format(monthLayout), SK: gate.FormatTime(at) + "#" + hex.EncodeToString(suffix[:]),
		Actor: e.Actor, Action: e.Action, RequestID: e.PrivacyRequestID, Detail: e.Detail,
		ExpiresAt: at.Add(gate.AccessLogRetention).Unix(),
	})
	if err != nil {
		return fmt.Errorf("marshal access entry: %w", err)
	}
	_, err = l.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &l.table, Item: av, ConditionExpression: aws.String("attribute_not_exists(sk)")})
	if err != nil {
		return fmt.Errorf("record access %s: %w", e.Action, err)
	}
	return nil
}

// List reads month partitions newest first from the cursor's month (or
// this month), as many as the retention spans, until it has size+1 entries.
func (l *AccessLog) List(ctx context.Context, size int, after string) ([]gate.AccessEntry, string, error) {
	month := time.Now().UTC()
	if after != "" {
		at, err := accessTime(after)
		if err != nil {
			return nil, "", fmt.Errorf("access cursor: %w", err)
		}
		month = at
	}
	month = time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, time.UTC)
	var items []accessItem
	for range l.months {
		in := &dynamodb.QueryInput{
			TableName: &l.table, KeyConditionExpression: aws.String("#m = :m"), ScanIndexForward: aws.Bool(false),
			ExpressionAttributeNames:  map[string]string{"#m": "month"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":m": stringValue(month.Format(monthLayout))},
		}
		if after != "" {
			in.KeyConditionExpression = aws.String("#m = :m AND sk < :after")
			in.ExpressionAttributeValues[":after"] = stringValue(after)
		}
		for {
			in.Limit = aws.Int32(int32(size + 1 - len(items)))
			out, err := l.db.Query(ctx, in)
			if err != nil {
				return nil, "", fmt.Errorf("query access log %s: %w", month.Format(monthLayout), err)
			}
			var got []accessItem
			if err := attributevalue.UnmarshalListOfMaps(out.Items, &got); err != nil {
				return nil, "", fmt.Errorf("unmarshal access log: %w", err)
			}
			items = append(items, got...)
			if len(items) > size || len(out.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
		if len(items) > size {
			break
		}
		month = month.AddDate(0, -1, 0)
	}
	next := ""
	if len(items) > size {
		items = items[:size]
		next = items[size-1].SK
	}
	entries := make([]gate.AccessEntry, len(items))
	for i, it := range items {
		at, err := accessTime(it.SK)
		if err != nil {
			return nil, "", fmt.Errorf("access entry %s: %w", it.SK, err)
		}
		entries[i] = gate.AccessEntry{At: at, Actor: it.Actor, Action: it.Action, PrivacyRequestID: it.RequestID, Detail: it.Detail}
	}
	return entries, next, nil
}
