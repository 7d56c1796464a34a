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
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

// A re-run of pre-approval moves the run it ends out of the request's item
// (docs/storage.md, "Largest item"): the timeline so far and the names of the
// run's webhooks go to an archive item of their own, id "<request id>#run<n>",
// put by the same transaction that starts the new run, and the request's
// item keeps the current run only. So the request's item holds at most one
// run's worth of webhooks and timeline however often it is re-run, and each
// archive item holds one run. An archive item has none of the index
// attributes (no index sees it) and no status (the stream's filters drop its
// records). Once the request is finished, the stream record of the write
// that finished it gives each archive item the request's expires_at
// (ExpireArchives, internal/stream's Archives), retried until it succeeds.

var _ gate.RunArchive = (*RequestStore)(nil)

// archiveID is the id of the archive item of run n of request id.
func archiveID(id string, run int) string { return id + "#run" + strconv.Itoa(run) }

// archiveItem is one archived run: its snapshot's keys and names, and the
// timeline as it stood when the run ended.
type archiveItem struct {
	ID       string         `dynamodbav:"id"`
	Webhooks []runHook      `dynamodbav:"webhooks"`
	Activity []activityItem `dynamodbav:"activity"`
}

// archivedRun reads request id as a re-run is about to end its run n and
// returns the archive item of that run (the stored timeline as it is) and
// the length of the timeline it holds, which the re-run's write conditions
// on, so that an entry appended meanwhile is not lost.
func (s *RequestStore) archivedRun(ctx context.Context, id string, run int) (map[string]types.AttributeValue, int, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, ConsistentRead: aws.Bool(true),
		Key:                  map[string]types.AttributeValue{"id": stringValue(id)},
		ProjectionExpression: aws.String("webhooks, activity"),
	})
	if err != nil {
		return nil, 0, fmt.Errorf("read request %s before its re-run: %w", id, err)
	}
	if out.Item == nil {
		return nil, 0, gate.NotFound(id)
	}
	var it struct {
		Webhooks []snapshotItem `dynamodbav:"webhooks"`
	}
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, 0, fmt.Errorf("unmarshal request %s: %w", id, err)
	}
	hooks := make([]runHook, len(it.Webhooks))
	for i, w := range it.Webhooks {
		hooks[i] = w.runHook()
	}
	webhooks, err := attributevalue.Marshal(hooks)
	if err != nil {
		return nil, 0, fmt.Errorf("marshal archived webhooks: %w", err)
	}
	activity, _ := out.Item["activity"].(*types.AttributeValueMemberL)
	if activity == nil {
		activity = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
	}
	item := map[string]types.AttributeValue{"id": stringValue(archiveID(id, run)), "webhooks": webhooks, "activity": activity}
	return item, len(activity.Value), nil
}

// applyRerun makes a re-run's change as one transaction: the archive item of
// the run it ends is put (only if absent), and the request's item is updated
// with update/cond, its timeline replaced by the re-run's entries. It returns
// the request after it.
func (s *RequestStore) applyRerun(ctx context.Context, c gate.Change, archive map[string]types.AttributeValue,
	update, cond string, names map[string]string, values map[string]types.AttributeValue) (*gate.PrivacyRequest, error) {
	err := transactWrite(ctx, s.db, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: archive, ConditionExpression: aws.String("attribute_not_exists(id)")}},
		{Update: &types.Update{
			TableName:                 &s.table,
			Key:                       map[string]types.AttributeValue{"id": stringValue(c.ID)},
			UpdateExpression:          aws.String(update),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}},
	}})
	var canceled *types.TransactionCanceledException
	if errors.As(err, &canceled) {
		for _, r := range canceled.CancellationReasons {
			if aws.ToString(r.Code) == "ValidationException" && tooLargeMessage(aws.ToString(r.Message)) {
				return nil, &gate.ItemTooLargeError{Msg: "re-run request " + c.ID + ": the stored item would exceed the largest size an item may have", Cause: err}
			}
		}
		for _, r := range canceled.CancellationReasons {
			if code := aws.ToString(r.Code); code == "ConditionalCheckFailed" || code == "TransactionConflict" {
				// Moved, grown or gone since it was read (the archive put
				// fails only when the re-run already happened), or another
				// write of it still in flight after transactWrite's tries:
				// the use case reads it again.
				return nil, &gate.ConflictError{Msg: fmt.Sprintf("privacy request %s changed since it was read", c.ID)}
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("re-run request %s: %w", c.ID, itemSizeError(err, "re-run request "+c.ID))
	}
	return s.Get(ctx, c.ID)
}

// ArchivedActivity returns the timeline of the first runs pre-approval runs
// of request id that re-runs archived, oldest first (strongly consistent
// reads).
func (s *RequestStore) ArchivedActivity(ctx context.Context, id string, runs int) ([]gate.ActivityEntry, error) {
	if runs <= 0 {
		return nil, nil
	}
	ask := make([]map[string]types.AttributeValue, runs)
	for n := range runs {
		ask[n] = map[string]types.AttributeValue{"id": stringValue(archiveID(id, n))}
	}
	var items []archiveItem
	wait := 10 * time.Millisecond
	for len(ask) > 0 {
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
			RequestItems: map[string]types.KeysAndAttributes{s.table: {Keys: ask, ConsistentRead: aws.Bool(true)}},
		})
		if err != nil {
			return nil, fmt.Errorf("read archived runs of %s: %w", id, err)
		}
		for _, av := range out.Responses[s.table] {
			var it archiveItem
			if err := attributevalue.UnmarshalMap(av, &it); err != nil {
				return nil, fmt.Errorf("unmarshal archived run of %s: %w", id, err)
			}
			items = append(items, it)
		}
		ask = out.UnprocessedKeys[s.table].Keys
		if len(ask) > 0 {
			if err := pause(ctx, &wait); err != nil {
				return nil, err
			}
		}
	}
	run := func(it archiveItem) int {
		n, _ := strconv.Atoi(it.ID[strings.LastIndex(it.ID, "#run")+len("#run"):])
		return n
	}
	sort.Slice(items, func(i, j int) bool { return run(items[i]) < run(items[j]) })
	var out []gate.ActivityEntry
	for _, it := range items {
		entries, err := readActivity(it.Activity, it.Webhooks, itemRefs{})
		if err != nil {
			return nil, fmt.Errorf("archived run %s: %w", it.ID, err)
		}
		out = append(out, entries...)
	}
	return out, nil
}

// ExpireArchives gives the archived runs 0..runs-1 of request id the TTL
// expiresAt (epoch seconds), so they go with the request (the stream's
// Archives step calls it once the request is finished, and its record is
// retried until this succeeds). One UpdateItem per run, conditioned on the
// archive item existing, so none is created. Setting the same value again changes nothing.
func (s *RequestStore) ExpireArchives(ctx context.Context, id string, runs int, expiresAt int64) error {
	exp := &types.AttributeValueMemberN{Value: strconv.FormatInt(expiresAt, 10)}
	for k := range runs {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 &s.table,
			Key:                       map[string]types.AttributeValue{"id": stringValue(archiveID(id, k))},
			UpdateExpression:          aws.String("SET " + expiresAttr + " = :expires"),
			ConditionExpression:       aws.String("attribute_exists(id)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":expires": exp},
		})
		var ccf *types.ConditionalCheckFailedException
		if err != nil && !errors.As(err, &ccf) {
			return fmt.Errorf("expire archived run %d of %s: %w", k, id, err)
		}
	}
	return nil
}
