package gate

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pregate/pregate/internal/logkey"
)

// Extension limits.
const (
	MaxExtensionDays   = 90
	MaxExtendReasonLen = 500
)

// The failures of an extension's item.
const (
	msgAlreadyExtended = "Deadline already extended"
	msgExtendDenied    = "Cannot extend a denied request"
	msgNoDeadline      = "Request has no deadline"
)

// Extension is an admin's extension of some requests' deadlines.
type Extension struct {
	IDs    []string
	Days   *int // required
	Reason *string
	Actor  string
}

// ExtendWrite moves one request's due date from From to To, once: it
// applies only while the request's due date is From, it was never
// extended, and it is not denied; else a *ConflictError.
type ExtendWrite struct {
	ID       string
	From, To time.Time
	At       time.Time
	Entry    ActivityEntry
}

// DueSet is which requests a due listing reads. The store keeps open and
// decided requests apart by due date, so that a listing of the open ones
// never reads through the decided ones, which it keeps for the whole
// retention period and which far outnumber them.
type DueSet int

// The due sets: every request with a due date, or only the open or the
// decided ones (Status.Open).
const (
	DueAll DueSet = iota
	DueOpen
	DueDecided
)

// dueSetOf is the set holding requests of status st.
func dueSetOf(st Status) DueSet {
	if st.Open() {
		return DueOpen
	}
	return DueDecided
}

// holds reports whether set holds requests of status st.
func (set DueSet) holds(st Status) bool { return set == DueAll || dueSetOf(st) == set }

// Deadlines keeps and lists requests by due date and by identity.
type Deadlines interface {
	// Extend writes an extension and returns the request after it.
	Extend(ctx context.Context, w ExtendWrite) (*PrivacyRequest, error)
	// ListDue returns up to size requests of set with a due date strictly
	// before `before`, soonest due first, after the cursor key `after` (""
	// for the first), and the key to continue after ("" when there is no
	// more).
	ListDue(ctx context.Context, set DueSet, before time.Time, size int, after string) ([]*PrivacyRequest, string, error)
	// FindByIdentity returns the requests any of whose identity hashes is
	// one of h's, newest first, at most limit of them.
	FindByIdentity(ctx context.Context, h IdentityHashes, limit int) ([]*PrivacyRequest, error)
}

// Extend moves the due date of each request by the days given, once.
func (u *Requests) Extend(ctx context.Context, e Extension) (BulkResult, error) {
	var fields []FieldError
	if len(e.IDs) == 0 || len(e.IDs) > MaxBulk {
		fields = append(fields, FieldError{Loc: []any{"body", "request_ids"}, Msg: fmt.Sprintf("ensure this value has between 1 and %d items", MaxBulk), Type: "value_error.list.size"})
	}
	if e.Days == nil || *e.Days < 1 || *e.Days > MaxExtensionDays {
		fields = append(fields, FieldError{Loc: []any{"body", "days"}, Msg: fmt.Sprintf("ensure this value is between 1 and %d", MaxExtensionDays), Type: "value_error.number"})
	}
	if e.Reason == nil || strings.TrimSpace(*e.Reason) == "" || tooLong(*e.Reason, MaxExtendReasonLen) {
		fields = append(fields, FieldError{Loc: []any{"body", "reason"}, Msg: fmt.Sprintf("ensure this value has between 1 and %d characters", MaxExtendReasonLen), Type: "value_error.any_str"})
	}
	if len(fields) > 0 {
		return BulkResult{}, &ValidationError{Fields: fields}
	}
	if err := checkActor(e.Actor); err != nil {
		return BulkResult{}, err
	}
	res := BulkResult{Succeeded: []*PrivacyRequest{}, Failed: []Failure{}}
	for _, id := range e.IDs {
		r, msg, err := u.extendOne(ctx, id, *e.Days, *e.Reason, e.Actor)
		if err != nil {
			return res, err
		}
		if msg != "" {
			res.Failed = append(res.Failed, Failure{Message: msg, Data: map[string]any{"privacy_request_id": id}})
			continue
		}
		u.Log.InfoContext(ctx, "deadline extended", logkey.PrivacyRequestID, id, "days", *e.Days, "actor", e.Actor)
		res.Succeeded = append(res.Succeeded, r)
	}
	return res, nil
}

func (u *Requests) extendOne(ctx context.Context, id string, days int, reason, actor string) (*PrivacyRequest, string, error) {
	var nf *NotFoundError
	var cf *ConflictError
	notFound := fmt.Sprintf("No privacy request found with id '%s'", id)
	var tried *ExtendWrite // our last write whose outcome is unknown
	for range maxRetries {
		cur, err := u.get(ctx, id)
		if errors.As(err, &nf) {
			return nil, notFound, nil
		}
		if err != nil {
			return nil, "", err
		}
		switch {
		case tried != nil && extendedBy(cur, *tried):
			return cur, "", nil // our own write took effect; its answer was lost
		case cur.Status == StatusDenied:
			return nil, msgExtendDenied, nil
		case cur.DueDate == nil:
			return nil, msgNoDeadline, nil
		case cur.Extended:
			return nil, msgAlreadyExtended, nil
		}
		now := u.now()
		w := ExtendWrite{ID: id, From: *cur.DueDate, To: cur.DueDate.Add(time.Duration(days) * 24 * time.Hour), At: now,
			Entry: ActivityEntry{At: now, Kind: KindDeadlineExtended, Days: days, Reason: reason, Actor: actor}}
		r, err := u.Deadlines.Extend(ctx, w)
		switch {
		case errors.As(err, &cf):
			tried = &w
			continue
		case errors.As(err, &nf):
			return nil, notFound, nil
		case err != nil:
			return nil, "", err
		}
		return r, "", nil
	}
	return nil, "", fmt.Errorf("request %s: kept changing during its extension after %d attempts", id, maxRetries)
}

// extendedBy reports whether r shows w applied: extended to w.To, with w's
// timeline entry (its instant, to the microsecond, and its actor).
func extendedBy(r *PrivacyRequest, w ExtendWrite) bool {
	if !r.Extended || r.DueDate == nil || !r.DueDate.Equal(w.To) {
		return false
	}
	return slices.ContainsFunc(r.Activity, func(e ActivityEntry) bool {
		return e.Kind == KindDeadlineExtended && e.At.Equal(w.At) && e.Actor == w.Entry.Actor
	})
}

// ExtensionMessage is the timeline's text of an extension.
func ExtensionMessage(days int, reason string) string {
	unit := "days"
	if days == 1 {
		unit = "day"
	}
	return fmt.Sprintf("Deadline extended by %d %s: %s", days, unit, reason)
}

// dueCursorPattern is a due-listing key: "<due epoch seconds>#<request id>".
var dueCursorPattern = lazyPattern(`^\d{1,12}#pri_[0-9a-f-]{36}$`)

// DueKey is the due-listing key of request r.
func DueKey(r *PrivacyRequest) string {
	return strconv.FormatInt(r.DueDate.Unix(), 10) + "#" + r.ID
}

// maxDueReads bounds the due index's pages one listing call reads.
const maxDueReads = 10

// listDue pages through the requests of set due before `before`, soonest
// first.
func (u *Requests) listDue(ctx context.Context, q ListQuery, set DueSet, before time.Time, cursor string) (Page, error) {
	after := ""
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || !dueCursorPattern().MatchString(string(raw)) {
			return Page{}, errInvalidCursor
		}
		after = string(raw)
	}
	if q.Status != "" {
		if !set.holds(q.Status) {
			return Page{Items: []*PrivacyRequest{}}, nil // open=true with a decided status, or the reverse
		}
		set = dueSetOf(q.Status)
	}
	var out []*PrivacyRequest
	// The filters are applied to what the due set gives, by each request's
	// status as read: the store's index may still file a request just
	// decided under the open set. A page is filled from up to maxDueReads
	// of its pages. A status rare in its set (denied among the approved)
	// would otherwise have one call read the whole set: the page then comes
	// short, with a cursor.
	for reads := 1; ; reads++ {
		items, next, err := u.Deadlines.ListDue(ctx, set, before, q.Size, after)
		if err != nil {
			return Page{}, err
		}
		for _, r := range items {
			if set.holds(r.Status) && (q.Status == "" || r.Status == q.Status) {
				out = append(out, r)
			}
			if len(out) == q.Size {
				more := next != "" || r != items[len(items)-1]
				if !more {
					return Page{Items: out}, nil
				}
				return Page{Items: out, NextCursor: base64.RawURLEncoding.EncodeToString([]byte(DueKey(r)))}, nil
			}
		}
		if next == "" {
			return Page{Items: out}, nil
		}
		if reads == maxDueReads {
			return Page{Items: out, NextCursor: base64.RawURLEncoding.EncodeToString([]byte(next))}, nil
		}
		after = next
	}
}

// maxIdentityMatches bounds what one identity search reads: one person's
// requests, far below it.
const maxIdentityMatches = 1000

// dueFilter is what due_before and open ask of a request found by id or
// by identity (a due listing asks it of the index instead).
type dueFilter struct {
	before *time.Time // nil: any due date, or none
	set    DueSet
}

// admits reports whether r is due before f.before and in f's set.
func (f dueFilter) admits(r *PrivacyRequest) bool {
	return (f.before == nil || r.DueDate != nil && r.DueDate.Before(*f.before)) && f.set.holds(r.Status)
}

// listIdentity pages through the requests of one identity, newest first.
func (u *Requests) listIdentity(ctx context.Context, q ListQuery, value string, due dueFilter) (Page, error) {
	key, err := u.identityKey(ctx)
	if err != nil {
		return Page{}, err
	}
	found, err := u.Deadlines.FindByIdentity(ctx, key.Query(value), maxIdentityMatches)
	if err != nil {
		return Page{}, err
	}
	out := []*PrivacyRequest{}
	for _, r := range found {
		switch {
		case !matchesIdentity(r, value):
		case q.Status != "" && r.Status != q.Status:
		case !due.admits(r):
		case q.After != "" && SortKey(r) >= q.After:
		default:
			out = append(out, r)
		}
	}
	if len(out) <= q.Size {
		return Page{Items: out}, nil
	}
	out = out[:q.Size]
	return Page{Items: out, NextCursor: base64.RawURLEncoding.EncodeToString([]byte(SortKey(out[len(out)-1])))}, nil
}
