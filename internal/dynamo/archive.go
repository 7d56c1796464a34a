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

// archivedRun reads request id as a re-run is about to end its run n and
// returns the archive item of that run (the stored timeline as it is) and
// the length of the timeline it holds, which the re-run's write conditions
// on, so that an entry appended meanwhile is not lost.
func (s *RequestStore) archivedRun(ctx context.Context, id string, run int) (map[string]types.AttributeValue, int, error) {
	const projection = "#webhooks, #activity"
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, ConsistentRead: aws.Bool(true), Key: requestKey(id),
		ProjectionExpression: aws.String(projection), ExpressionAttributeNames: exprNames(projection),
	})
	if err != nil {
		return nil, 0, fmt.Errorf("read request %s before its re-run: %w", id, err)
	}
	if out.Item == nil {
		return nil, 0, gate.NotFound(id)
	}
	f := fields{item: out.Item}
	snapshot := f.snapshot(AttrWebhooks)
	activity := f.list(AttrActivity)
	if f.err != nil {
		return nil, 0, fmt.Errorf("request %s: %w", id, f.err)
	}
	// An archived run keeps its webhooks' keys and names, which its
	// timeline's entries name by index.
	hooks := make([]types.AttributeValue, len(snapshot))
	for i, w := range snapshot {
		hooks[i] = &types.AttributeValueMemberM{Value: hookValue(snapshotHook(w))}
	}
	item := map[string]types.AttributeValue{
		AttrID: stringValue(archiveID(id, run)), AttrWebhooks: &types.AttributeValueMemberL{Value: hooks},
		AttrActivity: &types.AttributeValueMemberL{Value: activity},
	}
	return item, len(activity), nil
}

// applyRerun makes a re-run's change as one transaction: the archive item of
// the run it ends is put (only if absent), and the request's item is updated
// with update/cond, its timeline replaced by the re-run's entries. It returns
// the request after it.
func (s *RequestStore) applyRerun(ctx context.Context, c gate.Change, archive map[string]types.AttributeValue,
	update, cond string, names map[string]string, values map[string]types.AttributeValue) (*gate.PrivacyRequest, error) {
	err := transactWrite(ctx, s.db, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: archive, ConditionExpression: aws.String("attribute_not_exists(#id)"), ExpressionAttributeNames: exprNames("#id")}},
		{Update: &types.Update{
			TableName:                 &s.table,
			Key:                       requestKey(c.ID),
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
		ask[n] = requestKey(archiveID(id, n))
	}
	byRun := map[int][]gate.ActivityEntry{}
	wait := 10 * time.Millisecond
	for len(ask) > 0 {
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
			RequestItems: map[string]types.KeysAndAttributes{s.table: {Keys: ask, ConsistentRead: aws.Bool(true)}},
		})
		if err != nil {
			return nil, fmt.Errorf("read archived runs of %s: %w", id, err)
		}
		for _, av := range out.Responses[s.table] {
			f := fields{item: av}
			archived := f.str(AttrID)
			run, err := strconv.Atoi(archived[strings.LastIndex(archived, "#run")+len("#run"):])
			if err != nil {
				return nil, fmt.Errorf("archived run %q: %w", archived, err)
			}
			entries, err := readActivity(f.list(AttrActivity), f.runHooks(AttrWebhooks), itemRefs{})
			if err == nil {
				err = f.err
			}
			if err != nil {
				return nil, fmt.Errorf("archived run %s: %w", archived, err)
			}
			byRun[run] = entries
		}
		ask = out.UnprocessedKeys[s.table].Keys
		if len(ask) > 0 {
			if err := pause(ctx, &wait); err != nil {
				return nil, err
			}
		}
	}
	var out []gate.ActivityEntry
	for n := range runs {
		out = append(out, byRun[n]...)
	}
	return out, nil
}

// ExpireArchives gives the archived runs 0..runs-1 of request id the TTL
// expiresAt (epoch seconds), so they go with the request (the stream's
// Archives step calls it once the request is finished, and its record is
// retried until this succeeds). One UpdateItem per run, conditioned on the
// archive item existing, so none is created. Setting the same value again changes nothing.
func (s *RequestStore) ExpireArchives(ctx context.Context, id string, runs int, expiresAt int64) error {
	exp := number(expiresAt)
	for k := range runs {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 &s.table,
			Key:                       requestKey(archiveID(id, k)),
			UpdateExpression:          aws.String("SET #expires = :expires"),
			ConditionExpression:       aws.String("attribute_exists(#id)"),
			ExpressionAttributeNames:  exprNames("#expires #id"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":expires": exp},
		})
		var ccf *types.ConditionalCheckFailedException
		if err != nil && !errors.As(err, &ccf) {
			return fmt.Errorf("expire archived run %d of %s: %w", k, id, err)
		}
	}
	return nil
}
