package dynamo

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/pregate/pregate/internal/gate"
)

// indexKey is one entry of a KEYS_ONLY index: the request id and the index's
// sort key.
type indexKey struct{ id, sort string }

// List pages through the created index (or the status index with a status
// filter) newest first: each of the 16 shards is queried for up to Size+1
// keys older than the cursor, following LastEvaluatedKey until it has them
// or its data ends; the keys are merged newest first, and the page's items
// read with BatchGetItem. The cursor is the sort key of the last item
// returned.
func (s *RequestStore) List(ctx context.Context, q gate.ListQuery) ([]*gate.PrivacyRequest, string, error) {
	want := q.Size + 1
	keys, err := queryShards(ctx, shards(), func(ctx context.Context, sh string) ([]indexKey, error) {
		index, hashName, hashValue := indexCreated, "#shard", sh
		if q.Status != "" {
			index, hashName, hashValue = indexStatus, "#status_shard", string(q.Status)+"#"+sh
		}
		cond, values := listCondition(q, hashName, hashValue)
		return s.queryKeys(ctx, &dynamodb.QueryInput{
			TableName: &s.table, IndexName: aws.String(index),
			KeyConditionExpression:    aws.String(cond),
			ExpressionAttributeNames:  exprNames(cond),
			ExpressionAttributeValues: values,
			ScanIndexForward:          aws.Bool(false),
		}, attrSortKey, want)
	})
	if err != nil {
		return nil, "", err
	}
	if q.From != "" && q.After != "" {
		keys = slices.DeleteFunc(keys, func(k indexKey) bool { return k.sort == q.After })
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].sort > keys[j].sort })
	more := len(keys) > q.Size
	if more {
		keys = keys[:q.Size]
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil || !more || len(items) == 0 {
		return items, "", err
	}
	return items, gate.SortKey(items[len(items)-1]), nil
}

// queryShards runs query for each partition key value at once and gathers
// their keys in the order of hashes: a page waits for one query's round
// trip, not for 16 or 32 of them one after another.
func queryShards(ctx context.Context, hashes []string, query func(ctx context.Context, hash string) ([]indexKey, error)) ([]indexKey, error) {
	got := make([][]indexKey, len(hashes))
	g, ctx := errgroup.WithContext(ctx)
	for i, hash := range hashes {
		g.Go(func() (err error) {
			got[i], err = query(ctx, hash)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return slices.Concat(got...), nil
}

// listCondition is the key condition of one shard's query for q: below
// the cursor, and within [From, To) for an export. BETWEEN is inclusive:
// the cursor's own key is dropped by the caller's filter on After, and a
// key "<To>#<id>" sorts after To, so To stays exclusive.
func listCondition(q gate.ListQuery, hash, hashValue string) (string, map[string]types.AttributeValue) {
	values := map[string]types.AttributeValue{":h": stringValue(hashValue)}
	hi := q.After
	if q.To != "" && (hi == "" || q.To < hi) {
		hi = q.To
	}
	switch {
	case q.From != "" && hi != "":
		values[":lo"], values[":hi"] = stringValue(q.From), stringValue(hi)
		return hash + " = :h AND #sort BETWEEN :lo AND :hi", values
	case q.From != "":
		values[":lo"] = stringValue(q.From)
		return hash + " = :h AND #sort >= :lo", values
	case hi != "":
		values[":hi"] = stringValue(hi)
		return hash + " = :h AND #sort < :hi", values
	}
	return hash + " = :h", values
}

// queryKeys runs a Query on a KEYS_ONLY index whose sort key (sortName) is
// a string, following LastEvaluatedKey, until it has `want` keys or the data
// ends.
func (s *RequestStore) queryKeys(ctx context.Context, in *dynamodb.QueryInput, sortName string, want int) ([]indexKey, error) {
	return s.queryIndex(ctx, in, want, func(av map[string]types.AttributeValue) (indexKey, bool, error) {
		id, _ := av[AttrID].(*types.AttributeValueMemberS)
		sk, _ := av[sortName].(*types.AttributeValueMemberS)
		if id == nil || sk == nil {
			return indexKey{}, false, fmt.Errorf("an entry without id or %s", sortName)
		}
		return indexKey{id: id.Value, sort: sk.Value}, true, nil
	})
}

// indexEntry reads one index entry's key, and says whether to keep it.
type indexEntry func(av map[string]types.AttributeValue) (k indexKey, keep bool, err error)

// queryIndex follows a Query's pages, each no larger than what is still
// wanted, until it has `want` kept keys or the data ends.
func (s *RequestStore) queryIndex(ctx context.Context, in *dynamodb.QueryInput, want int, entry indexEntry) ([]indexKey, error) {
	var out []indexKey
	for {
		limit := want - len(out)
		if s.queryLimit > 0 {
			limit = min(limit, s.queryLimit)
		}
		in.Limit = aws.Int32(int32(limit))
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("query %s index: %w", aws.ToString(in.IndexName), err)
		}
		for _, av := range page.Items {
			k, keep, err := entry(av)
			if err != nil {
				return nil, fmt.Errorf("query %s index: %w", aws.ToString(in.IndexName), err)
			}
			if keep {
				out = append(out, k)
			}
		}
		if len(out) >= want || len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// batchGetMax is BatchGetItem's limit of keys per call.
const batchGetMax = 100

// batchGet reads the requests of keys, in that order, with BatchGetItem,
// retrying UnprocessedKeys. A request gone since the index was read (a
// discarded submission) is left out.
func (s *RequestStore) batchGet(ctx context.Context, keys []indexKey) ([]*gate.PrivacyRequest, error) {
	byID := make(map[string]*gate.PrivacyRequest, len(keys))
	for start := 0; start < len(keys); start += batchGetMax {
		var ask []map[string]types.AttributeValue
		for _, k := range keys[start:min(start+batchGetMax, len(keys))] {
			ask = append(ask, requestKey(k.id))
		}
		wait := 10 * time.Millisecond
		for len(ask) > 0 {
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{s.table: {Keys: ask}},
			})
			if err != nil {
				return nil, fmt.Errorf("batch get requests: %w", err)
			}
			for _, av := range out.Responses[s.table] {
				r, err := unmarshalRequest(av)
				if err != nil {
					return nil, err
				}
				byID[r.ID] = r
			}
			ask = out.UnprocessedKeys[s.table].Keys
			if len(ask) > 0 {
				if err := pause(ctx, &wait); err != nil {
					return nil, err
				}
			}
		}
	}
	items := make([]*gate.PrivacyRequest, 0, len(keys))
	for _, k := range keys {
		if r, ok := byID[k.id]; ok {
			items = append(items, r)
		}
	}
	return items, nil
}

// pause waits *d (throttled keys come back unprocessed), doubling it up to a second.
func pause(ctx context.Context, d *time.Duration) error {
	t := time.NewTimer(*d)
	defer t.Stop()
	*d = min(*d*2, time.Second)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
