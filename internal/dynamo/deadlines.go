package dynamo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

// The requests table's indexes for the privacy team (template.yaml), all
// KEYS_ONLY and sparse:
//   - deadline: the due set, open or decided, and the id's shard (16 ways
//     each); the due date (epoch seconds): every request with a due date,
//     soonest first. Written when a request is created, when it is
//     extended, and by its decision, which moves it to the decided set.
//   - id_email, id_phone, id_external: the keyed hash of the identity
//     (gate.IdentityKey), the sort key: one identity's requests,
//     newest first. Written once, at creation. A hash is one person's: no
//     key is shared by many requests, and no key holds an identity in clear.
const (
	indexDeadline = "deadline"
)

var identityIndexes = []struct{ index, attr string }{{"id_email", attrHashEmail}, {"id_phone", attrHashPhone}, {"id_external", attrHashExt}}

var _ gate.Deadlines = (*RequestStore)(nil)

// Extend moves a request's due date once: one conditional UpdateItem that
// also appends the timeline entry.
func (s *RequestStore) Extend(ctx context.Context, w gate.ExtendWrite) (*gate.PrivacyRequest, error) {
	const (
		update = "SET #due_date = :to, #extended = :true, #updated = :at, " +
			"#activity = list_append(if_not_exists(#activity, :none), :activity)"
		cond = "attribute_exists(#id) AND #due_date = :from AND attribute_not_exists(#extended) AND #status <> :denied"
	)
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.table,
		Key:                      requestKey(w.ID),
		UpdateExpression:         aws.String(update),
		ConditionExpression:      aws.String(cond),
		ExpressionAttributeNames: exprNames(update, cond),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":to": number(w.To.Unix()), ":from": number(w.From.Unix()), ":true": &types.AttributeValueMemberBOOL{Value: true},
			":at": micros(w.At), ":activity": activityValue([]gate.ActivityEntry{w.Entry}, itemRefs{}),
			":none": &types.AttributeValueMemberL{Value: []types.AttributeValue{}}, ":denied": stringValue(string(gate.StatusDenied)),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if len(ccf.Item) == 0 {
			return nil, gate.NotFound(w.ID)
		}
		return nil, &gate.ConflictError{Msg: fmt.Sprintf("privacy request %s: due date no longer %s, or extended", w.ID, gate.FormatTime(w.From))}
	}
	if err != nil {
		return nil, fmt.Errorf("extend request %s: %w", w.ID, itemSizeError(err, "extend request "+w.ID))
	}
	return unmarshalRequest(out.Attributes)
}

// ListDue reads each shard of set's partitions of the deadline index
// soonest first, from the cursor's due second, merges the keys by (due, id)
// and reads the page's requests.
func (s *RequestStore) ListDue(ctx context.Context, set gate.DueSet, before time.Time, size int, after string) ([]*gate.PrivacyRequest, string, error) {
	// dd is whole seconds: due < before is dd < before rounded up.
	bound := before.Unix()
	if before.After(time.Unix(bound, 0)) {
		bound++
	}
	from, err := cursorNumber(after)
	if err != nil {
		return nil, "", fmt.Errorf("due cursor: %w", err)
	}
	const cond = "#due_set = :sh AND #due_date BETWEEN :from AND :to"
	want := size + 1
	keys, err := queryShards(ctx, dueSetShards(set), func(ctx context.Context, sh string) ([]indexKey, error) {
		return s.queryNumberKeys(ctx, &dynamodb.QueryInput{
			TableName: &s.table, IndexName: aws.String(indexDeadline),
			KeyConditionExpression:    aws.String(cond),
			ExpressionAttributeNames:  exprNames(cond),
			ExpressionAttributeValues: map[string]types.AttributeValue{":sh": stringValue(sh), ":from": number(from), ":to": number(bound - 1)},
		}, attrDueDate, want, after)
	})
	if err != nil {
		return nil, "", err
	}
	sort.Slice(keys, func(i, j int) bool { return numberKeyLess(keys[i].sort, keys[j].sort) })
	more := len(keys) > size
	if more {
		keys = keys[:size]
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil || !more || len(items) == 0 {
		return items, "", err
	}
	return items, gate.DueKey(items[len(items)-1]), nil
}

// dueSetShards are the deadline index's partition keys of set.
func dueSetShards(set gate.DueSet) []string {
	var prefixes []string
	if set != gate.DueDecided {
		prefixes = append(prefixes, "open#")
	}
	if set != gate.DueOpen {
		prefixes = append(prefixes, "decided#")
	}
	var out []string
	for _, p := range prefixes {
		for _, sh := range shards() {
			out = append(out, p+sh)
		}
	}
	return out
}

// cursorNumber reads the number of a "<number>#<id>" index cursor (the
// smallest number for none).
func cursorNumber(after string) (int64, error) {
	if after == "" {
		return -1 << 62, nil
	}
	n, _, _ := strings.Cut(after, "#")
	v, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("index cursor %q: %w", after, err)
	}
	return v, nil
}

// numberKeyLess orders "<number>#<id>" keys by number, then id.
func numberKeyLess(a, b string) bool {
	as, aid, _ := strings.Cut(a, "#")
	bs, bid, _ := strings.Cut(b, "#")
	an, _ := strconv.ParseInt(as, 10, 64)
	bn, _ := strconv.ParseInt(bs, 10, 64)
	if an != bn {
		return an < bn
	}
	return aid < bid
}

// queryNumberKeys follows one shard's pages of an index whose range key
// (attribute rangeAttr) is a number until it has want keys after the cursor
// key "<number>#<id>": the query starts at the cursor's number, and the keys
// of that number up to the cursor's id are skipped.
func (s *RequestStore) queryNumberKeys(ctx context.Context, in *dynamodb.QueryInput, rangeAttr string, want int, after string) ([]indexKey, error) {
	return s.queryIndex(ctx, in, want, func(av map[string]types.AttributeValue) (indexKey, bool, error) {
		id, _ := av[AttrID].(*types.AttributeValueMemberS)
		n, _ := av[rangeAttr].(*types.AttributeValueMemberN)
		if id == nil || n == nil {
			return indexKey{}, false, fmt.Errorf("an entry without id or %s", rangeAttr)
		}
		k := indexKey{id: id.Value, sort: n.Value + "#" + id.Value}
		return k, after == "" || numberKeyLess(after, k.sort), nil
	})
}

// FindByIdentity queries the three identity indexes, newest first, and
// reads the requests (each once).
func (s *RequestStore) FindByIdentity(ctx context.Context, h gate.IdentityHashes, limit int) ([]*gate.PrivacyRequest, error) {
	seen := map[string]bool{}
	var keys []indexKey
	for i, value := range []string{h.Email, h.Phone, h.External} {
		if value == "" {
			continue
		}
		ix := identityIndexes[i]
		got, err := s.queryKeys(ctx, &dynamodb.QueryInput{
			TableName: &s.table, IndexName: aws.String(ix.index),
			KeyConditionExpression:    aws.String("#h = :h"),
			ExpressionAttributeNames:  map[string]string{"#h": ix.attr},
			ExpressionAttributeValues: map[string]types.AttributeValue{":h": stringValue(value)},
			ScanIndexForward:          aws.Bool(false),
		}, attrSortKey, limit)
		if err != nil {
			return nil, err
		}
		for _, k := range got {
			if !seen[k.id] {
				seen[k.id] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].sort > keys[j].sort })
	if len(keys) > limit {
		keys = keys[:limit]
	}
	return s.batchGet(ctx, keys)
}
