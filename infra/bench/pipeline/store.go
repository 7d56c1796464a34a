package pipeline

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

// memStore keeps requests in memory with the stored semantics the domain
// relies on (create once, the conditional writes of the DynamoDB adapter)
// and, like the table's stream, keeps each change for a
// stream record with old and new images.
type memStore struct {
	mu      sync.Mutex
	items   map[string]*gate.PrivacyRequest
	changes []change
	seq     int
}

// change is one write: old is nil for a create.
type change struct{ old, new *gate.PrivacyRequest }

var (
	_ gate.RequestStore  = (*memStore)(nil)
	_ gate.ReplyStore    = (*memStore)(nil)
	_ gate.DeliveryStore = (*memStore)(nil)
)

func newMemStore() *memStore { return &memStore{items: map[string]*gate.PrivacyRequest{}} }

func clone(r *gate.PrivacyRequest) *gate.PrivacyRequest {
	c := *r
	c.Webhooks = slices.Clone(r.Webhooks)
	c.Activity = slices.Clone(r.Activity)
	return &c
}

func conflict(id string) error {
	return &gate.ConflictError{Msg: "privacy request " + id + " changed since it was read"}
}

// write stores next in place of old (nil for a create) and keeps the change.
func (s *memStore) write(old, next *gate.PrivacyRequest) {
	s.items[next.ID] = next
	s.changes = append(s.changes, change{old: old, new: next})
}

// drain returns the stream records of the writes since the last drain, as
// DynamoDB Streams would show them (building them is the table's work, not
// a handler's: the pipeline does it outside the measured invocations).
func (s *memStore) drain() ([]events.DynamoDBEventRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	records := make([]events.DynamoDBEventRecord, len(s.changes))
	for i, c := range s.changes {
		rec := events.DynamoDBEventRecord{EventName: "INSERT", EventSource: "aws:dynamodb", AWSRegion: "us-east-1"}
		var err error
		if c.old != nil {
			rec.EventName = "MODIFY"
			if rec.Change.OldImage, err = image(c.old); err != nil {
				return nil, err
			}
		}
		if rec.Change.NewImage, err = image(c.new); err != nil {
			return nil, err
		}
		s.seq++
		rec.Change.Keys = map[string]events.DynamoDBAttributeValue{"id": events.NewStringAttribute(c.new.ID)}
		rec.Change.SequenceNumber = strconv.Itoa(s.seq)
		rec.Change.StreamViewType = "NEW_AND_OLD_IMAGES"
		records[i] = rec
	}
	s.changes = nil
	return records, nil
}

func (s *memStore) Create(_ context.Context, r *gate.PrivacyRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.items[r.ID]; ok {
		return &gate.ConflictError{Msg: "privacy request " + r.ID + " already exists"}
	}
	s.write(nil, clone(r))
	return nil
}

func (s *memStore) Get(_ context.Context, id string) (*gate.PrivacyRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.items[id]
	if !ok {
		return nil, &gate.NotFoundError{Msg: "No privacy request found with id: '" + id + "'."}
	}
	return clone(r), nil
}

func (s *memStore) Apply(_ context.Context, c gate.Change) (*gate.PrivacyRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.items[c.ID]
	if !ok {
		return nil, &gate.NotFoundError{Msg: "No privacy request found with id: '" + c.ID + "'."}
	}
	if old.Status != c.From {
		return nil, conflict(c.ID)
	}
	r := clone(old)
	r.Status, r.UpdatedAt = c.To, c.At
	if c.ReviewedBy != "" {
		at := c.At
		r.ReviewedAt, r.ReviewedBy = &at, c.ReviewedBy
	}
	r.DenyReason = c.DenyReason
	if c.Approved {
		at := c.At
		r.ApprovedAt, r.ApprovedBy = &at, c.ReviewedBy
	}
	if c.IdentityVerified {
		at := c.At
		r.IdentityVerifiedAt, r.Code = &at, nil
	}
	if c.Webhooks != nil {
		r.Webhooks = slices.Clone(c.Webhooks)
	}
	r.Activity = append(r.Activity, c.Activity...)
	s.write(old, r)
	return clone(r), nil
}

// errUnused marks the store methods no step of an auto-approved request calls.
var errUnused = errors.New("memStore: not used on the auto-approval path")

func (s *memStore) List(context.Context, gate.ListQuery) ([]*gate.PrivacyRequest, string, error) {
	return nil, "", errUnused
}

func (s *memStore) CountCodeTry(context.Context, string, int) error { return errUnused }

func (s *memStore) Discard(context.Context, *gate.PrivacyRequest) error { return errUnused }

// RecordReply applies w under the adapter's conditions (docs/internals/storage.md):
// the status is pending or awaiting; the webhook is at its index and has
// no reply yet; an approval needs the other webhooks' eligible replies.
func (s *memStore) RecordReply(_ context.Context, w gate.ReplyWrite) (*gate.PrivacyRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.items[w.ID]
	if !ok || !w.Shadow && old.Status != gate.StatusPending && old.Status != gate.StatusAwaitingPreApproval {
		return nil, conflict(w.ID)
	}
	r := clone(old)
	if rep := w.Reply; rep != nil {
		if rep.Index >= len(r.Webhooks) || r.Webhooks[rep.Index].Key != rep.Key || r.Webhooks[rep.Index].Reply != "" {
			return nil, conflict(w.ID)
		}
		r.Webhooks[rep.Index].Reply = rep.Answer
	}
	if w.To == gate.StatusApproved {
		for _, j := range w.Eligible {
			if j >= len(r.Webhooks) || r.Webhooks[j].Reply != gate.WebhookEligible {
				return nil, conflict(w.ID)
			}
		}
		at := w.At
		r.ApprovedAt = &at
	}
	if w.To != "" {
		r.Status = w.To
	}
	r.UpdatedAt = w.At
	r.Activity = append(r.Activity, w.Activity...)
	s.write(old, r)
	return clone(r), nil
}

// RecordDeliveries applies w under the adapter's conditions: each mark only
// while its webhook has no delivery (and, failed, no reply); ToPending only
// from awaiting_pre_approval.
func (s *memStore) RecordDeliveries(_ context.Context, w gate.DeliveryWrite) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.items[w.ID]
	if !ok || w.ToPending && old.Status != gate.StatusAwaitingPreApproval {
		return conflict(w.ID)
	}
	r := clone(old)
	for _, m := range w.Marks {
		if m.Index >= len(r.Webhooks) || r.Webhooks[m.Index].Key != m.Key || r.Webhooks[m.Index].Delivery != "" ||
			m.State == gate.WebhookFailed && r.Webhooks[m.Index].Reply != "" {
			return conflict(w.ID)
		}
		r.Webhooks[m.Index].Delivery, r.Webhooks[m.Index].Attempts = m.State, m.Attempts
	}
	if w.ToPending {
		r.Status = gate.StatusPending
	}
	r.UpdatedAt = w.At
	r.Activity = append(r.Activity, w.Activity...)
	s.write(old, r)
	return nil
}

// image is r as the stream shows it: the table's item in the event's form.
func image(r *gate.PrivacyRequest) (map[string]events.DynamoDBAttributeValue, error) {
	item := dynamo.Item(r)
	out := make(map[string]events.DynamoDBAttributeValue, len(item))
	for k, v := range item {
		out[k] = attribute(v)
	}
	return out, nil
}

func attribute(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = attribute(e)
		}
		return events.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		m := make(map[string]events.DynamoDBAttributeValue, len(v.Value))
		for k, e := range v.Value {
			m[k] = attribute(e)
		}
		return events.NewMapAttribute(m)
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	default:
		return events.NewNullAttribute()
	}
}

// MarkPublished sets the published mark of an approved request, as the
// requests table's conditional write does.
func (s *memStore) MarkPublished(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.items[id]
	if !ok || old.Status != gate.StatusApproved || old.PublishedAt != nil {
		return conflict(id)
	}
	r := clone(old)
	r.PublishedAt, r.DueAt, r.Publishing = &at, nil, nil
	s.write(old, r)
	return nil
}

// ClaimPublish gives c the right to publish an approved request not yet
// marked, as the requests table's conditional write does.
func (s *memStore) ClaimPublish(_ context.Context, id string, c gate.PublishClaim, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.items[id]
	if !ok || old.Status != gate.StatusApproved || old.PublishedAt != nil ||
		old.Publishing != nil && old.Publishing.Token != c.Token && old.Publishing.Until.After(now) {
		return conflict(id)
	}
	r := clone(old)
	claim, until := c, c.Until
	r.Publishing, r.DueAt = &claim, &until
	s.write(old, r)
	return nil
}
