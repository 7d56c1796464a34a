// Package dynamo keeps the gate's records in DynamoDB.
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

// RequestStore keeps privacy requests in the requests table, one item each.
type RequestStore struct {
	db    *dynamodb.Client
	table string
	// FinishedRetention is how long a request is kept once approved or
	// denied: the write that finishes it sets expires_at (the table's TTL)
	// that far ahead. 0 keeps requests forever.
	FinishedRetention time.Duration
	// reconcileAfter is the grace a request that becomes due gets before the
	// reconciler looks at it (gate.FirstDue).
	reconcileAfter time.Duration
	// queryLimit caps the keys one index Query page asks for (0: no cap), so
	// that tests make every listing follow LastEvaluatedKey.
	queryLimit int
}

var _ gate.RequestStore = (*RequestStore)(nil)

// NewRequestStore returns a store on the named table.
func NewRequestStore(db *dynamodb.Client, table string) *RequestStore {
	return &RequestStore{db: db, table: table, reconcileAfter: gate.DefaultReconcileAfter}
}

// WithReconcileAfter sets the grace a request that becomes due gets before
// the reconciler looks at it (gate.FirstDue); every function writing
// requests must use the reconciler's setting.
func (s *RequestStore) WithReconcileAfter(d time.Duration) *RequestStore {
	s.reconcileAfter = d
	return s
}

// Create puts a new request; an existing id is a conflict.
func (s *RequestStore) Create(ctx context.Context, r *gate.PrivacyRequest) error {
	r.DueAt = nil
	if due, ok := gate.FirstDue(r.Status, r.CreatedAt, s.reconcileAfter); ok {
		r.DueAt = &due
	}
	av := Item(r)
	if exp, ok := s.expiry(r.Status, r.CreatedAt); ok { // awaiting verification, or e.g. a consent request approved at once
		av[AttrExpires] = exp
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table, Item: av,
		ConditionExpression:                 aws.String("attribute_not_exists(#id)"),
		ExpressionAttributeNames:            exprNames("#id"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		// The SDK retries a put whose response was lost (timeout, reset); the
		// retry then meets our own item. Same id and same creation instant
		// (the sort key) means it is ours, so the create did happen.
		if sameCreation(ccf.Item, av) {
			return nil
		}
		return &gate.ConflictError{Msg: "privacy request " + r.ID + " already exists"}
	}
	if err != nil {
		return fmt.Errorf("put request %s: %w", r.ID, itemSizeError(err, "put request "+r.ID))
	}
	return nil
}

func sameCreation(existing, ours map[string]types.AttributeValue) bool {
	a, okA := existing[attrSortKey].(*types.AttributeValueMemberS)
	b, okB := ours[attrSortKey].(*types.AttributeValueMemberS)
	return okA && okB && a.Value == b.Value
}

// requestKey is the table key of request (or archive item) id.
func requestKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrID: stringValue(id)}
}

// Get reads one request (strongly consistent).
func (s *RequestStore) Get(ctx context.Context, id string) (*gate.PrivacyRequest, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, ConsistentRead: aws.Bool(true), Key: requestKey(id)})
	if err != nil {
		return nil, fmt.Errorf("get request %s: %w", id, err)
	}
	if out.Item == nil {
		return nil, gate.NotFound(id)
	}
	return unmarshalRequest(out.Item)
}

// Apply is one conditional UpdateItem: the status, the review fields and the
// timeline entries change together, only while the status is still c.From.
func (s *RequestStore) Apply(ctx context.Context, c gate.Change) (*gate.PrivacyRequest, error) {
	values := map[string]types.AttributeValue{
		":to":       stringValue(string(c.To)),
		":from":     stringValue(string(c.From)),
		":at":       micros(c.At),
		":activity": activityValue(c.Activity, itemRefs{c.DenyReason, c.ReviewedBy}),
	}
	// A move appends its entries to the timeline; a re-run starts the
	// timeline again with them (the run it ends goes to its archive item).
	set := "#status = :to, #updated = :at, #activity = :activity"
	if c.Run == 0 {
		set = "#status = :to, #updated = :at, #activity = list_append(if_not_exists(#activity, :none), :activity)"
		values[":none"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
	}
	if c.ReviewedBy != "" {
		set += ", #reviewed_at = :at, #reviewed_by = :by"
		values[":by"] = stringValue(c.ReviewedBy)
	}
	if c.Approved {
		set += ", #approved_at = :at"
		if c.ReviewedBy != "" {
			set += ", #approved_by = :by"
		}
	}
	exp, expires := s.expiry(c.To, c.At)
	if expires {
		set += ", #expires = :expires"
		values[":expires"] = exp
	}
	if c.DenyReason != "" {
		set += ", #deny_reason = :reason"
		values[":reason"] = stringValue(c.DenyReason)
	}
	if c.Webhooks != nil {
		set += ", #webhooks = :webhooks, #config_version = :wv"
		values[":webhooks"] = snapshotValue(c.Webhooks)
		values[":wv"] = number(c.WebhooksVersion)
	}
	cond := "attribute_exists(#id) AND #status = :from"
	var archive map[string]types.AttributeValue
	var remove []string
	if c.Run > 0 {
		// A re-run: the run it ends moves to its archive item (archive.go).
		var n int
		var err error
		if archive, n, err = s.archivedRun(ctx, c.ID, c.Run-1); err != nil {
			return nil, err
		}
		set += ", #run = :run"
		values[":run"] = number(int64(c.Run))
		values[":archived"] = number(int64(n))
		cond += " AND " + runCondition(c.Run-1, values) + " AND size(#activity) = :archived"
	}
	sets, indexRemove, _ := s.indexClauses(c.ID, c.To, c.At, nil, values)
	sets = append([]string{set}, sets...)
	remove = append(remove, indexRemove...)
	if c.IdentityVerified {
		sets = append(sets, "#verified_at = :at")
		remove = append(remove, "#code_hash", "#code_expires", "#code_tries")
		if !expires { // the expiry of an unverified request
			remove = append(remove, "#expires")
		}
	}
	update := updateExpression(sets, remove)
	names := exprNames(update, cond)
	if archive != nil {
		return s.applyRerun(ctx, c, archive, update, cond, names, values)
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       requestKey(c.ID),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
		// The old item tells a missing request from a lost race.
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if len(ccf.Item) == 0 {
			return nil, gate.NotFound(c.ID)
		}
		return nil, &gate.ConflictError{Msg: fmt.Sprintf("privacy request %s is no longer %s", c.ID, c.From)}
	}
	if err != nil {
		return nil, fmt.Errorf("update request %s: %w", c.ID, itemSizeError(err, "update request "+c.ID))
	}
	return unmarshalRequest(out.Attributes)
}

// runCondition holds while the stored pre-approval run is run (the
// attribute is absent until the first re-run).
func runCondition(run int, values map[string]types.AttributeValue) string {
	if run == 0 {
		return "attribute_not_exists(#run)"
	}
	values[":was_run"] = number(int64(run))
	return "#run = :was_run"
}

const discardCondition = "#status = :unverified AND #code_hash = :hash AND #code_tries = :zero AND #updated = :created"

// Discard deletes a request that Create just stored, conditioned on it being
// unchanged since: still identity_unverified, with its code untried.
func (s *RequestStore) Discard(ctx context.Context, r *gate.PrivacyRequest) error {
	if r.Code == nil {
		return fmt.Errorf("discard request %s: it has no verification code", r.ID)
	}
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                &s.table,
		Key:                      requestKey(r.ID),
		ConditionExpression:      aws.String(discardCondition),
		ExpressionAttributeNames: exprNames(discardCondition),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":unverified": stringValue(string(gate.StatusIdentityUnverified)),
			":hash":       stringValue(r.Code.Hash),
			":zero":       number(0),
			":created":    micros(r.UpdatedAt),
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return &gate.ConflictError{Msg: fmt.Sprintf("privacy request %s changed since it was created", r.ID)}
	}
	if err != nil {
		return fmt.Errorf("delete request %s: %w", r.ID, err)
	}
	return nil
}

// CountCodeTry records one more verification code tried.
func (s *RequestStore) CountCodeTry(ctx context.Context, id string, seen int) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.table,
		Key:                      requestKey(id),
		UpdateExpression:         aws.String("SET #code_tries = :next"),
		ConditionExpression:      aws.String("#status = :unverified AND #code_tries = :seen"),
		ExpressionAttributeNames: exprNames("#code_tries #status"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":unverified": stringValue(string(gate.StatusIdentityUnverified)),
			":seen":       number(int64(seen)),
			":next":       number(int64(seen + 1)),
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return &gate.ConflictError{Msg: fmt.Sprintf("privacy request %s: verification state moved", id)}
	}
	if err != nil {
		return fmt.Errorf("count wrong code for %s: %w", id, err)
	}
	return nil
}
