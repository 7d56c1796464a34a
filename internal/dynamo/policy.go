package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

// pkPolicy is the config table's partition of policy timeframes: one item
// per policy an admin changed (sort key: the policy key), attribute days (0:
// none). A submission reads the partition once (one Query, at most four
// small items: 0.5 read units eventually consistent), so even 1,000
// submissions a second stay far below a partition's 3,000 read units.
const pkPolicy = "POLICY"

var _ gate.PolicyStore = (*PolicyStore)(nil)

// PolicyStore keeps the policies' timeframes in the config table.
type PolicyStore struct {
	db    *dynamodb.Client
	table string
}

// NewPolicyStore uses the config table named table.
func NewPolicyStore(db *dynamodb.Client, table string) *PolicyStore {
	return &PolicyStore{db: db, table: table}
}

// Timeframes reads every timeframe an admin set.
func (s *PolicyStore) Timeframes(ctx context.Context) (map[string]int, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName: &s.table, KeyConditionExpression: aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": stringValue(pkPolicy)},
	})
	if err != nil {
		return nil, fmt.Errorf("query policies: %w", err)
	}
	set := make(map[string]int, len(out.Items))
	for _, it := range out.Items {
		sk, _ := it["sk"].(*types.AttributeValueMemberS)
		days, _ := it["days"].(*types.AttributeValueMemberN)
		if sk == nil || days == nil {
			return nil, fmt.Errorf("policy item without sk or days")
		}
		n, err := strconv.Atoi(days.Value)
		if err != nil {
			return nil, fmt.Errorf("policy %s: days %q: %w", sk.Value, days.Value, err)
		}
		set[sk.Value] = n
	}
	return set, nil
}

// SetTimeframe records a policy's timeframe. A setting has no state to
// move from: the admin's last change is the setting, so the write is a
// plain put of the whole item.
func (s *PolicyStore) SetTimeframe(ctx context.Context, key string, days int, at time.Time) error {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: map[string]types.AttributeValue{
		"pk": stringValue(pkPolicy), "sk": stringValue(key), "days": number(int64(days)), "updated_at": stringValue(gate.FormatTime(at)),
	}})
	if err != nil {
		return fmt.Errorf("put policy %s: %w", key, err)
	}
	return nil
}
