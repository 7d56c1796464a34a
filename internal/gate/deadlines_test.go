package gate

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// lostAnswerStore applies an extension, then answers as if the condition
// failed: what our SDK's retry meets after a response lost in transit.
type lostAnswerStore struct {
	RequestStore
	r     *PrivacyRequest
	lost  bool
	wrote int
}

func (s *lostAnswerStore) Get(context.Context, string) (*PrivacyRequest, error) {
	c := *s.r
	return &c, nil
}

func (s *lostAnswerStore) Extend(_ context.Context, w ExtendWrite) (*PrivacyRequest, error) {
	if s.r.Extended || !s.r.DueDate.Equal(w.From) {
		return nil, &ConflictError{Msg: "extended"}
	}
	s.wrote++
	s.r.Extended, s.r.DueDate = true, &w.To
	s.r.Activity = append(s.r.Activity, w.Entry)
	if s.lost {
		return nil, &ConflictError{Msg: "the retry met our own write"}
	}
	c := *s.r
	return &c, nil
}

func (s *lostAnswerStore) ListDue(context.Context, time.Time, int, string) ([]*PrivacyRequest, string, error) {
	return nil, "", nil
}

func (s *lostAnswerStore) FindByIdentity(context.Context, IdentityHashes, int) ([]*PrivacyRequest, error) {
	return nil, nil
}

func extensionCase(lost bool) (*Requests, *lostAnswerStore) {
	due := time.Date(2027, 1, 6, 12, 0, 0, 0, time.UTC)
	store := &lostAnswerStore{r: &PrivacyRequest{ID: "pri_11111111-1111-4111-8111-111111111111", Status: StatusPending, DueDate: &due}, lost: lost}
	return &Requests{Store: store, Deadlines: store, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, store
}

func TestOurOwnRetryIsNotASecondExtension(t *testing.T) {
	u, store := extensionCase(true)
	days, reason := 3, "complex"
	res, err := u.Extend(context.Background(), Extension{IDs: []string{store.r.ID}, Days: &days, Reason: &reason, Actor: "admin"})
	if err != nil || len(res.Succeeded) != 1 || len(res.Failed) != 0 || store.wrote != 1 {
		t.Fatalf("succeeded %d failed %+v wrote %d err %v", len(res.Succeeded), res.Failed, store.wrote, err)
	}
	if got := res.Succeeded[0].Activity[0].Message(); got != "Deadline extended by 3 days: complex" {
		t.Errorf("message %q", got)
	}
	// A client's second extension does fail.
	res, _ = u.Extend(context.Background(), Extension{IDs: []string{store.r.ID}, Days: &days, Reason: &reason, Actor: "admin"})
	if len(res.Failed) != 1 || res.Failed[0].Message != msgAlreadyExtended {
		t.Errorf("second extension: %+v", res)
	}
}

func TestExtensionBadInputChangesNothing(t *testing.T) {
	u, store := extensionCase(false)
	zero, ninetyOne, ten := 0, 91, 10
	empty, long, ok := " ", string(make([]byte, 501)), "ok"
	for _, e := range []Extension{
		{IDs: []string{store.r.ID}, Days: &zero, Reason: &ok},
		{IDs: []string{store.r.ID}, Days: &ninetyOne, Reason: &ok},
		{IDs: []string{store.r.ID}, Reason: &ok},
		{IDs: []string{store.r.ID}, Days: &ten},
		{IDs: []string{store.r.ID}, Days: &ten, Reason: &empty},
		{IDs: []string{store.r.ID}, Days: &ten, Reason: &long},
		{Days: &ten, Reason: &ok},
	} {
		if _, err := u.Extend(context.Background(), e); err == nil {
			t.Errorf("%+v was taken", e)
		}
	}
	if store.wrote != 0 {
		t.Errorf("%d writes", store.wrote)
	}
	one := 1
	res, _ := u.Extend(context.Background(), Extension{IDs: []string{store.r.ID}, Days: &one, Reason: &ok, Actor: "a"})
	if len(res.Succeeded) != 1 || res.Succeeded[0].Activity[0].Message() != "Deadline extended by 1 day: ok" {
		t.Errorf("%+v", res)
	}
}
