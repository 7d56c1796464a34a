package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
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

func (s *lostAnswerStore) ListDue(context.Context, DueSet, time.Time, int, string) ([]*PrivacyRequest, string, error) {
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

// dueIndex is a due index of requests sorted soonest first, paged as the
// store pages it; it counts its reads, and the decided requests it reads.
type dueIndex struct {
	lostAnswerStore
	sorted      []*PrivacyRequest
	reads       int
	decidedRead int
	// indexedAs is the status the index still files a request under, when
	// it has not caught up with a write yet (DynamoDB's indexes are
	// eventually consistent); the request read has its own.
	indexedAs map[string]Status
}

func (d *dueIndex) ListDue(_ context.Context, set DueSet, before time.Time, size int, after string) ([]*PrivacyRequest, string, error) {
	d.reads++
	var out []*PrivacyRequest
	for _, r := range d.sorted {
		filed := r.Status
		if st, ok := d.indexedAs[r.ID]; ok {
			filed = st
		}
		if set.holds(filed) && r.DueDate.Before(before) && DueKey(r) > after { // keys of one length: text order is due order
			if !r.Status.Open() {
				d.decidedRead++
			}
			out = append(out, r)
		}
	}
	if len(out) > size {
		return out[:size], DueKey(out[size-1]), nil
	}
	return out, "", nil
}

// TestDueListingOfARareStatusReadsABoundedPart: a due listing filtered by
// a status that few requests of its set have (pending among many requests
// flagged for review) reads at most maxDueReads of the index's pages per call, and answers a
// short page with a cursor that goes on from where it stopped, so that
// every match is found and none twice.
func TestDueListingOfARareStatusReadsABoundedPart(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	idx := &dueIndex{}
	var pending []string
	for i := range 500 {
		due := start.Add(time.Duration(i) * time.Hour)
		r := &PrivacyRequest{ID: fmt.Sprintf("pri_00000000-0000-4000-8000-%012d", i), Status: StatusPreApprovalNotEligible, DueDate: &due}
		if i%97 == 96 {
			r.Status = StatusPending
			pending = append(pending, r.ID)
		}
		idx.sorted = append(idx.sorted, r)
	}
	u := &Requests{Store: idx, Deadlines: idx, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	before := start.AddDate(1, 0, 0).Format(time.RFC3339)
	var found []string
	calls := 0
	for cursor := ""; ; calls++ {
		idx.reads = 0
		page, err := u.List(context.Background(), ListParams{DueBefore: before, Status: string(StatusPending), Size: 5, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		if idx.reads > maxDueReads {
			t.Fatalf("one call read %d pages of the index", idx.reads)
		}
		for _, r := range page.Items {
			found = append(found, r.ID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if strings.Join(found, ",") != strings.Join(pending, ",") || calls < 2 {
		t.Errorf("found %v in %d calls, want %v", found, calls+1, pending)
	}
}

// TestOpenDueListingNeverReadsDecidedRequests: the console's Due soon view
// (open=true) and a listing of an open status read only the open set,
// however many decided requests are due earlier; open=false and a decided
// status read only the decided set; a status outside the set asked for
// finds nothing; open is refused without due_before or with a non-boolean.
func TestOpenDueListingNeverReadsDecidedRequests(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	idx := &dueIndex{}
	var open, approved []string
	for i := range 300 {
		due := start.Add(time.Duration(i) * time.Hour)
		r := &PrivacyRequest{ID: fmt.Sprintf("pri_00000000-0000-4000-8000-%012d", i), Status: StatusApproved, DueDate: &due}
		switch {
		case i >= 290:
			r.Status = StatusPending
			open = append(open, r.ID)
		case i >= 285:
			r.Status = StatusPreApprovalNotEligible
			open = append(open, r.ID)
		default:
			approved = append(approved, r.ID)
		}
		idx.sorted = append(idx.sorted, r)
	}
	u := &Requests{Store: idx, Deadlines: idx, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	before := start.AddDate(1, 0, 0).Format(time.RFC3339)
	list := func(p ListParams) []string {
		t.Helper()
		p.DueBefore, p.Size = before, MaxPageSize
		var ids []string
		for {
			page, err := u.List(context.Background(), p)
			if err != nil {
				t.Fatalf("%+v: %v", p, err)
			}
			for _, r := range page.Items {
				ids = append(ids, r.ID)
			}
			if p.Cursor = page.NextCursor; p.Cursor == "" {
				return ids
			}
		}
	}
	for _, c := range []struct {
		p           ListParams
		want        []string
		readDecided bool
	}{
		{ListParams{Open: "true"}, open, false},
		{ListParams{Status: string(StatusPending)}, open[5:], false},
		{ListParams{Open: "false"}, approved, true},
		{ListParams{Status: string(StatusApproved), Open: "false"}, approved, true},
		{ListParams{Status: string(StatusApproved), Open: "true"}, nil, false},
		{ListParams{Status: string(StatusPending), Open: "false"}, nil, false},
		{ListParams{}, append(append([]string{}, approved...), open...), true},
	} {
		idx.decidedRead = 0
		got := list(c.p)
		if strings.Join(got, ",") != strings.Join(c.want, ",") || (idx.decidedRead > 0) != c.readDecided {
			t.Errorf("%+v: %d listed, %d decided read; want %d, decided read %v", c.p, len(got), idx.decidedRead, len(c.want), c.readDecided)
		}
	}
	for _, p := range []ListParams{{Open: "yes", DueBefore: before}, {OpenGiven: true, DueBefore: before}, {Open: "true"}} {
		p.Size = 10
		var v *ValidationError
		if _, err := u.List(context.Background(), p); !errors.As(err, &v) {
			t.Errorf("%+v: %v, want a validation error", p, err)
		}
	}
}

// A request decided a moment ago may still be filed under the open set
// (the index is eventually consistent): the open listing reads its status
// and leaves it out; the Due soon view never shows a decided request.
func TestOpenDueListingLeavesOutARequestDecidedSinceItsIndexEntry(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	idx := &dueIndex{indexedAs: map[string]Status{}}
	for i, st := range []Status{StatusPending, StatusApproved, StatusPreApprovalNotEligible} {
		due := start.Add(time.Duration(i) * time.Hour)
		idx.sorted = append(idx.sorted, &PrivacyRequest{ID: fmt.Sprintf("pri_00000000-0000-4000-8000-%012d", i), Status: st, DueDate: &due})
	}
	idx.indexedAs[idx.sorted[1].ID] = StatusPreApprovalNotEligible // approved since
	u := &Requests{Store: idx, Deadlines: idx, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	page, err := u.List(context.Background(), ListParams{DueBefore: start.AddDate(0, 0, 1).Format(time.RFC3339), Open: "true", Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range page.Items {
		ids = append(ids, r.ID)
	}
	if want := []string{idx.sorted[0].ID, idx.sorted[2].ID}; strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("open listing: %v, want %v", ids, want)
	}
}

// A request found by id or by identity is kept by due_before and open as a
// due listing would keep it.
func TestDueFilterAdmits(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	later := at.Add(time.Hour)
	pending := &PrivacyRequest{Status: StatusPending, DueDate: &at}
	approved := &PrivacyRequest{Status: StatusApproved, DueDate: &at}
	noDue := &PrivacyRequest{Status: StatusPending}
	for _, c := range []struct {
		f    dueFilter
		r    *PrivacyRequest
		want bool
	}{
		{dueFilter{}, noDue, true},
		{dueFilter{before: &later}, pending, true},
		{dueFilter{before: &at}, pending, false}, // strictly before
		{dueFilter{before: &later}, noDue, false},
		{dueFilter{before: &later, set: DueOpen}, pending, true},
		{dueFilter{before: &later, set: DueOpen}, approved, false},
		{dueFilter{before: &later, set: DueDecided}, approved, true},
		{dueFilter{before: &later, set: DueDecided}, pending, false},
	} {
		if got := c.f.admits(c.r); got != c.want {
			t.Errorf("%+v admits %s due %v: %v, want %v", c.f, c.r.Status, c.r.DueDate, got, c.want)
		}
	}
}
