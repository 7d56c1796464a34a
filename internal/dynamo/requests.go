// Package dynamo keeps the gate's records in DynamoDB.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
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

type requestItem struct {
	ID                 string         `dynamodbav:"id"`
	Status             string         `dynamodbav:"status"`
	CreatedShard       string         `dynamodbav:"created_shard"`
	SortKey            string         `dynamodbav:"sort_key"`
	StatusShard        string         `dynamodbav:"status_shard"`
	DueShard           string         `dynamodbav:"due_shard,omitempty"`
	DueAt              string         `dynamodbav:"due_at,omitempty"`
	PublishedAt        string         `dynamodbav:"published_at,omitempty"`
	PublishClaim       string         `dynamodbav:"publish_claim,omitempty"`
	PublishClaimUntil  string         `dynamodbav:"publish_claim_until,omitempty"`
	PolicyKey          string         `dynamodbav:"policy_key"`
	PolicyAction       string         `dynamodbav:"policy_action"`
	Email              string         `dynamodbav:"email,omitempty"`
	PhoneNumber        string         `dynamodbav:"phone_number,omitempty"`
	ExternalID         string         `dynamodbav:"external_id,omitempty"`
	CreatedAt          string         `dynamodbav:"created_at"`
	UpdatedAt          string         `dynamodbav:"updated_at"`
	IdentityVerifiedAt string         `dynamodbav:"identity_verified_at,omitempty"`
	ReviewedAt         string         `dynamodbav:"reviewed_at,omitempty"`
	ReviewedBy         string         `dynamodbav:"reviewed_by,omitempty"`
	DenyReason         string         `dynamodbav:"deny_reason,omitempty"`
	ApprovedAt         string         `dynamodbav:"approved_at,omitempty"`
	ApprovedBy         string         `dynamodbav:"approved_by,omitempty"`
	Webhooks           []snapshotItem `dynamodbav:"webhooks"`
	WebhooksVersion    int64          `dynamodbav:"wv,omitempty"` // the configuration's version the snapshot was taken from
	Activity           []activityItem `dynamodbav:"activity"`
	Run                int            `dynamodbav:"pre_approval_run,omitempty"`
	CodeHash           string         `dynamodbav:"code_hash,omitempty"`
	CodeExpiresAt      string         `dynamodbav:"code_expires_at,omitempty"`
	CodeAttempts       *int           `dynamodbav:"code_attempts,omitempty"`
	// The due date (epoch seconds) and its index's shard, the extension's
	// mark, and the identity hashes of the search indexes (deadlines.go).
	DueDate      int64  `dynamodbav:"dd,omitempty"`
	DueDateShard string `dynamodbav:"dds,omitempty"`
	Extended     bool   `dynamodbav:"dx,omitempty"`
	HashEmail    string `dynamodbav:"ihe,omitempty"`
	HashPhone    string `dynamodbav:"ihp,omitempty"`
	HashExternal string `dynamodbav:"ihx,omitempty"`
}

// snapshotItem is one webhook of the snapshot. The dispatcher writes only
// delivery/attempts, replies only reply/replied_at, each
// conditioned on its own fields (docs/storage.md).
type snapshotItem struct {
	Key  string `dynamodbav:"key"`
	Name string `dynamodbav:"name"`
	// Shadow marks a webhook in shadow mode; absent is enforce, the usual case.
	Shadow    bool   `dynamodbav:"sh,omitempty"`
	Delivery  string `dynamodbav:"delivery,omitempty"`
	Attempts  int    `dynamodbav:"attempts"`
	Reply     string `dynamodbav:"reply,omitempty"`
	RepliedAt string `dynamodbav:"replied_at,omitempty"`
}

// modeOf is a stored webhook's mode (shadow marked, enforce absent).
func modeOf(shadow bool) gate.WebhookMode {
	if shadow {
		return gate.ModeShadow
	}
	return gate.ModeEnforce
}

func (w snapshotItem) runHook() runHook {
	return runHook{Key: w.Key, Name: w.Name, Shadow: w.Shadow}
}

func toSnapshotItems(ws []gate.SnapshotWebhook) []snapshotItem {
	out := make([]snapshotItem, len(ws))
	for i, w := range ws {
		out[i] = snapshotItem{Key: w.Key, Name: w.Name, Shadow: w.Shadow(), Delivery: string(w.Delivery), Attempts: w.Attempts, Reply: string(w.Reply),
			RepliedAt: optTime(w.RepliedAt)}
	}
	return out
}

func optTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return gate.FormatTime(*t)
}

func toRequestItem(r *gate.PrivacyRequest) requestItem {
	it := requestItem{
		ID: r.ID, Status: string(r.Status), CreatedShard: shard(r.ID), SortKey: gate.SortKey(r), StatusShard: statusShard(r.Status, r.ID),
		PolicyKey: r.PolicyKey, PolicyAction: r.PolicyAction,
		Email: r.Identity.Email, PhoneNumber: r.Identity.PhoneNumber, ExternalID: r.ExternalID,
		CreatedAt: gate.FormatTime(r.CreatedAt), UpdatedAt: gate.FormatTime(r.UpdatedAt),
		IdentityVerifiedAt: optTime(r.IdentityVerifiedAt), ReviewedAt: optTime(r.ReviewedAt), ReviewedBy: r.ReviewedBy,
		DenyReason: r.DenyReason, ApprovedAt: optTime(r.ApprovedAt), ApprovedBy: r.ApprovedBy,
		Webhooks: toSnapshotItems(r.Webhooks), WebhooksVersion: r.WebhooksVersion, Activity: toActivityItems(r.Activity, itemRefs{r.DenyReason, r.ReviewedBy}), Run: r.Run,
		PublishedAt: optTime(r.PublishedAt),
	}
	if c := r.Publishing; c != nil {
		it.PublishClaim, it.PublishClaimUntil = c.Token, gate.FormatTime(c.Until)
	}
	if r.DueAt != nil {
		it.DueShard, it.DueAt = shard(r.ID), dueKey(*r.DueAt, r.ID)
	}
	if c := r.Code; c != nil {
		it.CodeHash, it.CodeExpiresAt, it.CodeAttempts = c.Hash, gate.FormatTime(c.ExpiresAt), &c.Attempts
	}
	if r.DueDate != nil {
		it.DueDate, it.DueDateShard = r.DueDate.Unix(), shard(r.ID)
	}
	it.Extended = r.Extended
	it.HashEmail, it.HashPhone, it.HashExternal = r.Hashes.Email, r.Hashes.Phone, r.Hashes.External
	return it
}

// timeParser collects the first bad stored time.
type timeParser struct{ err error }

func (p *timeParser) at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil && p.err == nil {
		p.err = err
	}
	return t
}

func (p *timeParser) opt(s string) *time.Time {
	if s == "" {
		return nil
	}
	t := p.at(s)
	return &t
}

func (it requestItem) request() (*gate.PrivacyRequest, error) {
	var p timeParser
	r := &gate.PrivacyRequest{
		ID: it.ID, Status: gate.Status(it.Status), PolicyKey: it.PolicyKey, PolicyAction: it.PolicyAction,
		Identity: gate.Identity{Email: it.Email, PhoneNumber: it.PhoneNumber}, ExternalID: it.ExternalID,
		CreatedAt: p.at(it.CreatedAt), UpdatedAt: p.at(it.UpdatedAt),
		IdentityVerifiedAt: p.opt(it.IdentityVerifiedAt), ReviewedAt: p.opt(it.ReviewedAt), ApprovedAt: p.opt(it.ApprovedAt),
		ReviewedBy: it.ReviewedBy, DenyReason: it.DenyReason, ApprovedBy: it.ApprovedBy,
		Webhooks: make([]gate.SnapshotWebhook, len(it.Webhooks)),
		Run:      it.Run, WebhooksVersion: it.WebhooksVersion,
	}
	for i, w := range it.Webhooks {
		r.Webhooks[i] = gate.SnapshotWebhook{Key: w.Key, Name: w.Name, Mode: modeOf(w.Shadow), Delivery: gate.WebhookState(w.Delivery), Attempts: w.Attempts,
			Reply: gate.WebhookState(w.Reply), RepliedAt: p.opt(w.RepliedAt)}
	}
	hooks := make([]runHook, len(it.Webhooks))
	for i, w := range it.Webhooks {
		hooks[i] = w.runHook()
	}
	activity, err := readActivity(it.Activity, hooks, itemRefs{it.DenyReason, it.ReviewedBy})
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", it.ID, err)
	}
	r.Activity = activity
	r.PublishedAt = p.opt(it.PublishedAt)
	if it.PublishClaim != "" {
		r.Publishing = &gate.PublishClaim{Token: it.PublishClaim, Until: p.at(it.PublishClaimUntil)}
	}
	if it.DueAt != "" {
		at, err := dueTime(it.DueAt)
		if err != nil && p.err == nil {
			p.err = err
		}
		r.DueAt = &at
	}
	if it.DueDate != 0 {
		due := time.Unix(it.DueDate, 0).UTC()
		r.DueDate = &due
	}
	r.Extended = it.Extended
	if it.CodeHash != "" && it.CodeAttempts != nil {
		r.Code = &gate.VerificationCode{Hash: it.CodeHash, ExpiresAt: p.at(it.CodeExpiresAt), Attempts: *it.CodeAttempts}
	}
	if p.err != nil {
		return nil, fmt.Errorf("request %s: bad stored time: %w", it.ID, p.err)
	}
	return r, nil
}

// Create puts a new request; an existing id is a conflict.
func (s *RequestStore) Create(ctx context.Context, r *gate.PrivacyRequest) error {
	r.DueAt = nil
	if due, ok := gate.FirstDue(r.Status, r.CreatedAt, s.reconcileAfter); ok {
		r.DueAt = &due
	}
	av, err := attributevalue.MarshalMap(toRequestItem(r))
	if err != nil {
		return fmt.Errorf("marshal request %s: %w", r.ID, err)
	}
	if exp, ok := s.expiry(r.Status, r.CreatedAt); ok { // awaiting verification, or e.g. a consent request approved at once
		av[expiresAttr] = exp
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table, Item: av,
		ConditionExpression:                 aws.String("attribute_not_exists(id)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		// The SDK retries a put whose response was lost (timeout, reset); the
		// retry then meets our own item. Same id and same creation instant
		// means it is ours, so the create did happen.
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
	a, okA := existing["created_at"].(*types.AttributeValueMemberS)
	b, okB := ours["created_at"].(*types.AttributeValueMemberS)
	return okA && okB && a.Value == b.Value
}

// Get reads one request (strongly consistent).
func (s *RequestStore) Get(ctx context.Context, id string) (*gate.PrivacyRequest, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}},
	})
	if err != nil {
		return nil, fmt.Errorf("get request %s: %w", id, err)
	}
	if out.Item == nil {
		return nil, gate.NotFound(id)
	}
	return unmarshalRequest(out.Item)
}

func unmarshalRequest(av map[string]types.AttributeValue) (*gate.PrivacyRequest, error) {
	var it requestItem
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return nil, fmt.Errorf("unmarshal request: %w", err)
	}
	return it.request()
}

// Apply is one conditional UpdateItem: the status, the review fields and the
// timeline entries change together, only while the status is still c.From.
func (s *RequestStore) Apply(ctx context.Context, c gate.Change) (*gate.PrivacyRequest, error) {
	activity, err := attributevalue.Marshal(toActivityItems(c.Activity, itemRefs{c.DenyReason, c.ReviewedBy}))
	if err != nil {
		return nil, fmt.Errorf("marshal activity: %w", err)
	}
	values := map[string]types.AttributeValue{
		":to":       &types.AttributeValueMemberS{Value: string(c.To)},
		":from":     &types.AttributeValueMemberS{Value: string(c.From)},
		":at":       &types.AttributeValueMemberS{Value: gate.FormatTime(c.At)},
		":activity": activity,
	}
	// A move appends its entries to the timeline; a re-run starts the
	// timeline again with them (the run it ends goes to its archive item).
	set := "#status = :to, updated_at = :at, activity = :activity"
	if c.Run == 0 {
		set = "#status = :to, updated_at = :at, activity = list_append(if_not_exists(activity, :none), :activity)"
		values[":none"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
	}
	names := map[string]string{"#status": "status"}
	if c.ReviewedBy != "" {
		set += ", reviewed_at = :at, reviewed_by = :by"
		values[":by"] = &types.AttributeValueMemberS{Value: c.ReviewedBy}
	}
	if c.Approved {
		set += ", approved_at = :at"
		if c.ReviewedBy != "" {
			set += ", approved_by = :by"
		}
	}
	exp, expires := s.expiry(c.To, c.At)
	if expires {
		set += ", " + expiresAttr + " = :expires"
		values[":expires"] = exp
	}
	if c.DenyReason != "" {
		set += ", deny_reason = :reason"
		values[":reason"] = &types.AttributeValueMemberS{Value: c.DenyReason}
	}
	if c.Webhooks != nil {
		av, err := attributevalue.Marshal(toSnapshotItems(c.Webhooks))
		if err != nil {
			return nil, fmt.Errorf("marshal webhooks: %w", err)
		}
		set += ", webhooks = :webhooks, wv = :wv"
		values[":webhooks"] = av
		values[":wv"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(c.WebhooksVersion, 10)}
	}
	cond := "attribute_exists(id) AND #status = :from"
	var archive map[string]types.AttributeValue
	var remove []string
	if c.Run > 0 {
		// A re-run: the run it ends moves to its archive item (archive.go).
		var n int
		var err error
		if archive, n, err = s.archivedRun(ctx, c.ID, c.Run-1); err != nil {
			return nil, err
		}
		set += ", pre_approval_run = :run"
		values[":run"] = &types.AttributeValueMemberN{Value: strconv.Itoa(c.Run)}
		values[":archived"] = &types.AttributeValueMemberN{Value: strconv.Itoa(n)}
		cond += " AND " + runCondition(c.Run-1, values) + " AND size(activity) = :archived"
	}
	sets, indexRemove := s.indexClauses(c.ID, c.To, c.At, values)
	sets = append([]string{set}, sets...)
	remove = append(remove, indexRemove...)
	if c.IdentityVerified {
		sets = append(sets, "identity_verified_at = :at")
		remove = append(remove, "code_hash", "code_expires_at", "code_attempts")
		if !expires { // the expiry of an unverified request
			remove = append(remove, expiresAttr)
		}
	}
	update := updateExpression(sets, remove)
	if archive != nil {
		return s.applyRerun(ctx, c, archive, update, cond, names, values)
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: c.ID}},
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
		return "attribute_not_exists(pre_approval_run)"
	}
	values[":was_run"] = &types.AttributeValueMemberN{Value: strconv.Itoa(run)}
	return "pre_approval_run = :was_run"
}

// Discard deletes a request that Create just stored, conditioned on it being
// unchanged since: still identity_unverified, with its code untried.
func (s *RequestStore) Discard(ctx context.Context, r *gate.PrivacyRequest) error {
	if r.Code == nil {
		return fmt.Errorf("discard request %s: it has no verification code", r.ID)
	}
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                &s.table,
		Key:                      map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: r.ID}},
		ConditionExpression:      aws.String("#status = :unverified AND code_hash = :hash AND code_attempts = :zero AND updated_at = :created"),
		ExpressionAttributeNames: map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":unverified": &types.AttributeValueMemberS{Value: string(gate.StatusIdentityUnverified)},
			":hash":       &types.AttributeValueMemberS{Value: r.Code.Hash},
			":zero":       &types.AttributeValueMemberN{Value: "0"},
			":created":    &types.AttributeValueMemberS{Value: gate.FormatTime(r.UpdatedAt)},
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
		Key:                      map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}},
		UpdateExpression:         aws.String("SET code_attempts = :next"),
		ConditionExpression:      aws.String("#status = :unverified AND code_attempts = :seen"),
		ExpressionAttributeNames: map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":unverified": &types.AttributeValueMemberS{Value: string(gate.StatusIdentityUnverified)},
			":seen":       &types.AttributeValueMemberN{Value: fmt.Sprint(seen)},
			":next":       &types.AttributeValueMemberN{Value: fmt.Sprint(seen + 1)},
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
