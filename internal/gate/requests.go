package gate

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/pregate/pregate/internal/logkey"
)

// MaxBulk is the most items one bulk call takes.
const MaxBulk = 50

// msgCannotTransition is the failure text for a forbidden move.
const msgCannotTransition = "Cannot transition status"

// msgConcurrentChanges fails an item of a bulk admin route whose request
// kept changing under every attempt to move it.
const msgConcurrentChanges = "Too many concurrent changes to this privacy request; try again"

// Requests are the privacy-request use cases.
type Requests struct {
	Store    RequestStore
	Webhooks WebhookLister // nil: no webhooks configured
	// RequireManualApproval is REQUIRE_MANUAL_REQUEST_APPROVAL.
	RequireManualApproval bool
	// VerifyIdentity is SUBJECT_IDENTITY_VERIFICATION_REQUIRED; Codes sends the codes.
	VerifyIdentity bool
	Codes          CodeSender
	Now            func() time.Time
	NewID          func() string
	Log            *slog.Logger
	// Policies give a submission's due date; nil: every policy has
	// DefaultTimeframeDays.
	Policies PolicyStore
	// IdentityKey makes the identity hashes of the search index (nil: an
	// empty key, in tests).
	IdentityKey IdentityKeys
	// Deadlines extends due dates and lists by due date and identity;
	// Access is the access log (admin routes only).
	Deadlines Deadlines
	Access    AccessLog
}

// SubmitItem is one request as the data subject sends it.
type SubmitItem struct {
	Identity   Identity
	PolicyKey  string
	ExternalID string
}

// Failure is one item of a bulk call that was not carried out.
type Failure struct {
	Message string
	Data    map[string]any
}

// BulkResult is the answer of a bulk call.
type BulkResult struct {
	Succeeded []*PrivacyRequest
	Failed    []Failure
}

var e164 = lazyPattern(`^\+[1-9][0-9]{1,14}$`)

// ValidateSubmission checks a whole submission before anything is written;
// problems are 422s located like FastAPI's.
func ValidateSubmission(items []SubmitItem) error {
	if len(items) == 0 || len(items) > MaxBulk {
		return Invalid(fmt.Sprintf("ensure this value has between 1 and %d items", MaxBulk), "value_error.list.size", "body")
	}
	var fields []FieldError
	for i, it := range items {
		if it.Identity.Email == "" && it.Identity.PhoneNumber == "" {
			fields = append(fields, FieldError{Loc: []any{"body", i, "identity"}, Msg: "at least one of email or phone_number is required", Type: "value_error.missing"})
		}
		switch e := it.Identity.Email; {
		case tooLong(e, MaxEmailLen):
			fields = append(fields, maxLengthError(MaxEmailLen, "body", i, "identity", "email"))
		case e != "" && !validEmail(e):
			fields = append(fields, FieldError{Loc: []any{"body", i, "identity", "email"}, Msg: "value is not a valid email address", Type: "value_error.email"})
		}
		switch p := it.Identity.PhoneNumber; {
		case tooLong(p, MaxPhoneLen):
			fields = append(fields, maxLengthError(MaxPhoneLen, "body", i, "identity", "phone_number"))
		case p != "" && !e164().MatchString(p):
			fields = append(fields, FieldError{Loc: []any{"body", i, "identity", "phone_number"}, Msg: "value is not a valid E.164 phone number", Type: "value_error.phone_number"})
		}
		switch {
		case it.PolicyKey == "":
			fields = append(fields, FieldError{Loc: []any{"body", i, "policy_key"}, Msg: "field required", Type: "value_error.missing"})
		case tooLong(it.PolicyKey, MaxKeyLen):
			fields = append(fields, maxLengthError(MaxKeyLen, "body", i, "policy_key"))
		}
		if tooLong(it.ExternalID, MaxExternalIDLen) {
			fields = append(fields, maxLengthError(MaxExternalIDLen, "body", i, "external_id"))
		}
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	return nil
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && strings.Contains(s[at+1:], ".") && !strings.HasSuffix(s, ".")
}

// Submit creates requests. An unknown policy fails that item only.
func (u *Requests) Submit(ctx context.Context, items []SubmitItem) (BulkResult, error) {
	if err := ValidateSubmission(items); err != nil {
		return BulkResult{}, err
	}
	var hooks WebhookConfig // the snapshot is taken at verification when that comes first
	if !u.VerifyIdentity {
		var err error
		if hooks, err = u.listWebhooks(ctx); err != nil {
			return BulkResult{}, err
		}
	}
	timeframes, err := u.timeframes(ctx)
	if err != nil {
		return BulkResult{}, err
	}
	key, err := u.identityKey(ctx)
	if err != nil {
		return BulkResult{}, err
	}
	res := BulkResult{Succeeded: []*PrivacyRequest{}, Failed: []Failure{}}
	for _, it := range items {
		action, ok := Policies[it.PolicyKey]
		if !ok {
			res.Failed = append(res.Failed, Failure{
				Message: fmt.Sprintf("Policy with key %s does not exist", it.PolicyKey),
				Data:    submitData(it),
			})
			continue
		}
		if u.VerifyIdentity && it.Identity.Email == "" {
			res.Failed = append(res.Failed, Failure{Message: msgEmailForVerification, Data: submitData(it)})
			continue
		}
		r := u.newRequest(it, action, hooks)
		r.DueDate = DueDate(r.CreatedAt.Truncate(time.Second), timeframes[it.PolicyKey])
		r.Hashes = key.Of(r)
		code := ""
		if u.VerifyIdentity {
			code = newCode()
			r.Code = &VerificationCode{Hash: hashCode(r.ID, code), ExpiresAt: r.CreatedAt.Add(CodeTTL)}
		}
		if err := u.Store.Create(ctx, r); err != nil {
			var big *ItemTooLargeError
			if errors.As(err, &big) {
				res.Failed = append(res.Failed, Failure{Message: msgItemTooLarge, Data: submitData(it)})
				continue
			}
			return res, fmt.Errorf("create request: %w", err)
		}
		if code != "" {
			sent, err := u.sendCode(ctx, r, code)
			if err != nil {
				return res, err
			}
			if !sent {
				res.Failed = append(res.Failed, Failure{Message: msgCodeNotSent, Data: submitData(it)})
				continue
			}
		}
		u.Log.InfoContext(ctx, "privacy request submitted", logkey.PrivacyRequestID, r.ID, logkey.Status, string(r.Status))
		res.Succeeded = append(res.Succeeded, r)
	}
	return res, nil
}

// sendCode mails a new request's code. When the mail fails, the request is
// removed again (a request nobody can verify would only sit there), so the
// item fails whole (sent false) and the data subject can simply submit
// again; err is for a removal that failed too.
func (u *Requests) sendCode(ctx context.Context, r *PrivacyRequest, code string) (sent bool, err error) {
	sendErr := u.Codes.SendVerificationCode(ctx, VerificationMail{To: r.Identity.Email, Code: code, PrivacyRequestID: r.ID})
	if sendErr == nil {
		return true, nil
	}
	if err := u.Store.Discard(ctx, r); err != nil {
		return false, fmt.Errorf("remove request %s after its code was not sent (%w): %w", r.ID, sendErr, err)
	}
	u.Log.ErrorContext(ctx, "verification code not sent; request removed", logkey.PrivacyRequestID, r.ID, "error", sendErr.Error())
	return false, nil
}

// timeframes are the policies' execution timeframes now, by policy key.
func (u *Requests) timeframes(ctx context.Context) (map[string]int, error) {
	set := map[string]int{}
	if u.Policies != nil {
		var err error
		if set, err = u.Policies.Timeframes(ctx); err != nil {
			return nil, fmt.Errorf("read policies: %w", err)
		}
	}
	out := make(map[string]int, len(PolicyKeys))
	for _, k := range PolicyKeys {
		out[k] = policy(k, set).ExecutionTimeframe
	}
	return out, nil
}

func (u *Requests) listWebhooks(ctx context.Context) (WebhookConfig, error) {
	if u.Webhooks == nil {
		return WebhookConfig{}, nil
	}
	hooks, err := u.Webhooks.ListWebhooks(ctx)
	if err != nil {
		return WebhookConfig{}, fmt.Errorf("list webhooks: %w", err)
	}
	return hooks, nil
}

func submitData(it SubmitItem) map[string]any {
	id := map[string]any{}
	if it.Identity.Email != "" {
		id["email"] = it.Identity.Email
	}
	if it.Identity.PhoneNumber != "" {
		id["phone_number"] = it.Identity.PhoneNumber
	}
	d := map[string]any{"identity": id, "policy_key": it.PolicyKey}
	if it.ExternalID != "" {
		d["external_id"] = it.ExternalID
	}
	return d
}

func (u *Requests) now() time.Time { return u.Now().UTC().Truncate(time.Microsecond) }

func (u *Requests) newRequest(it SubmitItem, action string, hooks WebhookConfig) *PrivacyRequest {
	now := u.now()
	r := &PrivacyRequest{
		ID: u.NewID(), PolicyKey: it.PolicyKey, PolicyAction: action,
		Identity: it.Identity, ExternalID: it.ExternalID, CreatedAt: now, UpdatedAt: now,
	}
	if u.VerifyIdentity {
		r.Status, _ = Next(StatusNew, EventVerificationRequired)
		r.Webhooks = []SnapshotWebhook{}
		r.Activity = []ActivityEntry{{At: now, Kind: KindCodeSent}}
		return r
	}
	ev, snapshot, entries := u.admission(action, hooks, now)
	r.Status, _ = Next(StatusNew, ev) // every admission event is allowed from new
	r.Webhooks, r.WebhooksVersion, r.Activity = snapshot, hooks.Version, entries
	if r.Status == StatusApproved {
		r.ApprovedAt = &now
	}
	return r
}

// admission decides where a submitted (and verified, if need be) request
// goes: the event, the webhook snapshot (the configured webhooks in scope
// for its action) and the timeline entries. Only enforce webhooks decide:
// a request none of which applies to goes where a request with no webhooks
// goes, and the shadow webhooks in scope are still called for it.
func (u *Requests) admission(action string, cfg WebhookConfig, now time.Time) (Event, []SnapshotWebhook, []ActivityEntry) {
	if !u.RequireManualApproval || action == "consent" {
		return EventAutoApprove, []SnapshotWebhook{}, []ActivityEntry{{At: now, Kind: KindNoManualApproval}}
	}
	enforced := Enforced(cfg.Webhooks)
	snapshot, entries := webhookSnapshot(InScope(cfg.Webhooks, action), now)
	switch {
	case len(enforced) == 0:
		return EventAwaitReview, snapshot, append([]ActivityEntry{{At: now, Kind: KindAwaitingReview}}, entries...)
	case len(InScope(enforced, action)) == 0:
		return EventAwaitReview, snapshot, append([]ActivityEntry{{At: now, Kind: KindNoWebhookInScope, PolicyAction: action}}, entries...)
	}
	return EventAwaitWebhooks, snapshot, entries
}

// webhookSnapshot is the snapshot of hooks a request calls, and its
// pre_approval_webhook_triggered entry (none without hooks).
func webhookSnapshot(hooks []Webhook, now time.Time) ([]SnapshotWebhook, []ActivityEntry) {
	snapshot := make([]SnapshotWebhook, len(hooks))
	if len(hooks) == 0 {
		return snapshot, nil
	}
	mentions := make([]Mention, len(hooks))
	for i, h := range hooks {
		snapshot[i] = SnapshotWebhook{Key: h.Key, Name: h.Name, Mode: ModeEnforce}
		if h.Mode == ModeShadow {
			snapshot[i].Mode = ModeShadow
		}
		mentions[i] = Mention{Index: i, Key: h.Key, Name: h.Name, Shadow: snapshot[i].Shadow()}
	}
	return snapshot, []ActivityEntry{{At: now, Kind: KindTriggered, Hooks: mentions}}
}

// NotFound is the 404 for an unknown request id.
func NotFound(id string) error {
	return &NotFoundError{Msg: fmt.Sprintf("No privacy request found with id '%s'", id)}
}

var requestIDPattern = lazyPattern(`^pri_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// get reads a request; an id that NewRequestID cannot have made is not
// found without asking the store (an empty or oversized key is a store error).
func (u *Requests) get(ctx context.Context, id string) (*PrivacyRequest, error) {
	if !requestIDPattern().MatchString(id) {
		return nil, NotFound(id)
	}
	return u.Store.Get(ctx, id)
}

// Get returns one request.
func (u *Requests) Get(ctx context.Context, id string) (*PrivacyRequest, error) {
	return u.get(ctx, id)
}

// Activity returns a request's timeline, oldest first: the entries of the
// runs a re-run archived, then the request's own.
func (u *Requests) Activity(ctx context.Context, id string) ([]ActivityEntry, error) {
	r, err := u.get(ctx, id)
	if err != nil {
		return nil, err
	}
	return u.activityOf(ctx, r)
}

// activityOf is r's whole timeline, oldest first.
func (u *Requests) activityOf(ctx context.Context, r *PrivacyRequest) ([]ActivityEntry, error) {
	id := r.ID
	archive, ok := u.Store.(RunArchive)
	if !ok || r.Run == 0 {
		return r.Activity, nil
	}
	earlier, err := archive.ArchivedActivity(ctx, id, r.Run)
	if err != nil {
		return nil, err
	}
	return append(earlier, r.Activity...), nil
}

// ListParams are the list filters as the admin sends them.
type ListParams struct {
	Status    string
	RequestID string
	Size      int // 1 to MaxPageSize; callers default it to DefaultPageSize
	Cursor    string
	// DueBefore (RFC 3339) lists the requests due strictly before it,
	// soonest first; Identity those of one email, phone number or external id.
	DueBefore string
	// DueBeforeGiven tells an empty due_before (422) from none.
	DueBeforeGiven bool
	// Open ("true" or "false", with DueBefore) keeps only the requests that
	// still wait for a decision, or only the decided ones; OpenGiven tells
	// an empty value (422) from none.
	Open      string
	OpenGiven bool
	Identity  string
}

// Page is one page of requests; NextCursor is "" on the last page.
type Page struct {
	Items      []*PrivacyRequest
	NextCursor string
}

// DefaultPageSize and MaxPageSize bound ?size=.
const (
	DefaultPageSize = 50
	MaxPageSize     = 100
)

var cursorTimePattern = lazyPattern(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

// validSortKey checks a cursor's shape: "<created_at>#<request id>".
func validSortKey(s string) bool {
	at, id, ok := strings.Cut(s, "#")
	return ok && cursorTimePattern().MatchString(at) && requestIDPattern().MatchString(id)
}

var errInvalidCursor = &BadRequestError{Msg: "Invalid cursor"}

// cursor decodes a cursor to the sort key to continue after. Only a cursor
// this API handed out is taken (a malformed or unknown cursor is
// 400): it names a stored request, whose sort key it must be.
func (u *Requests) cursor(ctx context.Context, c string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !validSortKey(string(raw)) {
		return "", errInvalidCursor
	}
	_, id, _ := strings.Cut(string(raw), "#")
	r, err := u.Store.Get(ctx, id)
	var nf *NotFoundError
	switch {
	case errors.As(err, &nf):
		return "", errInvalidCursor
	case err != nil:
		return "", err
	case SortKey(r) != string(raw):
		return "", errInvalidCursor
	}
	return string(raw), nil
}

// List pages through requests, newest first.
func (u *Requests) List(ctx context.Context, p ListParams) (Page, error) {
	q := ListQuery{Size: p.Size}
	if q.Size < 1 || q.Size > MaxPageSize {
		return Page{}, Invalid(fmt.Sprintf("ensure this value is between 1 and %d", MaxPageSize), "value_error.number", "query", "size")
	}
	if p.Status != "" {
		st, ok := ParseStatus(p.Status)
		if !ok {
			return Page{}, Invalid("value is not a valid enumeration member", "type_error.enum", "query", "status")
		}
		q.Status = st
	}
	var before *time.Time
	if p.DueBefore != "" || p.DueBeforeGiven {
		t, err := time.Parse(time.RFC3339Nano, p.DueBefore)
		if err != nil {
			return Page{}, Invalid("value is not a date-time in RFC 3339", "value_error.datetime", "query", "due_before")
		}
		before = &t
	}
	if len(p.Identity) > MaxIdentityQueryLen {
		return Page{}, &ValidationError{Fields: []FieldError{maxLengthError(MaxIdentityQueryLen, "query", "identity")}}
	}
	set, err := dueSetParam(p, before != nil)
	if err != nil {
		return Page{}, err
	}
	if before != nil && p.Identity == "" && p.RequestID == "" {
		return u.listDue(ctx, q, set, *before, p.Cursor)
	}
	due := dueFilter{before, set}
	if p.Cursor != "" {
		after, err := u.cursor(ctx, p.Cursor)
		if err != nil {
			return Page{}, err
		}
		q.After = after
	}
	if p.Identity != "" && p.RequestID == "" {
		return u.listIdentity(ctx, q, p.Identity, due)
	}
	if p.RequestID != "" {
		r, err := u.get(ctx, p.RequestID)
		var nf *NotFoundError
		switch {
		case errors.As(err, &nf):
			return Page{Items: []*PrivacyRequest{}}, nil
		case err != nil:
			return Page{}, err
		case q.Status != "" && r.Status != q.Status,
			p.Identity != "" && !matchesIdentity(r, p.Identity),
			!due.admits(r):
			return Page{Items: []*PrivacyRequest{}}, nil
		}
		return Page{Items: []*PrivacyRequest{r}}, nil
	}
	return u.storePage(ctx, q)
}

// dueSetParam reads the open filter, which only a due date listing takes.
func dueSetParam(p ListParams, withDueBefore bool) (DueSet, error) {
	if p.Open == "" && !p.OpenGiven {
		return DueAll, nil
	}
	set := DueOpen
	switch p.Open {
	case "true":
	case "false":
		set = DueDecided
	default:
		return DueAll, Invalid("value could not be parsed to a boolean", "type_error.bool", "query", "open")
	}
	if !withDueBefore {
		return DueAll, Invalid("open filters a due date listing: give due_before too", "value_error.missing", "query", "due_before")
	}
	return set, nil
}

// listPage is one page of the store's listing for q, continuing after cursor.
func (u *Requests) listPage(ctx context.Context, q ListQuery, cursor string) (Page, error) {
	if cursor != "" {
		after, err := u.cursor(ctx, cursor)
		if err != nil {
			return Page{}, err
		}
		q.After = after
	}
	return u.storePage(ctx, q)
}

func (u *Requests) storePage(ctx context.Context, q ListQuery) (Page, error) {
	items, after, err := u.Store.List(ctx, q)
	if err != nil {
		return Page{}, err
	}
	page := Page{Items: items}
	if after != "" {
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(after))
	}
	return page, nil
}

// Decision is an admin's approval or denial of some requests.
type Decision struct {
	IDs    []string
	Actor  string // the admin's client id
	Reason string // deny only
}

// Approve approves each request that the state machine lets move.
func (u *Requests) Approve(ctx context.Context, d Decision) (BulkResult, error) {
	return u.decide(ctx, d, EventApprove)
}

// Deny denies each request that the state machine lets move.
func (u *Requests) Deny(ctx context.Context, d Decision) (BulkResult, error) {
	return u.decide(ctx, d, EventDeny)
}

// maxRetries bounds re-reads after a lost race; each lost race means the
// status moved, and the machine has few moves, so this is never reached
// unless the store misbehaves.
const maxRetries = 8

func (u *Requests) decide(ctx context.Context, d Decision, ev Event) (BulkResult, error) {
	if len(d.IDs) == 0 || len(d.IDs) > MaxBulk {
		return BulkResult{}, Invalid(fmt.Sprintf("ensure this value has between 1 and %d items", MaxBulk), "value_error.list.size", "body", "request_ids")
	}
	if tooLong(d.Reason, MaxDenyReasonLen) {
		return BulkResult{}, &ValidationError{Fields: []FieldError{maxLengthError(MaxDenyReasonLen, "body", "reason")}}
	}
	if err := checkActor(d.Actor); err != nil {
		return BulkResult{}, err
	}
	res := BulkResult{Succeeded: []*PrivacyRequest{}, Failed: []Failure{}}
	for _, id := range d.IDs {
		r, msg, err := u.decideOne(ctx, id, d, ev)
		if err != nil {
			return res, err
		}
		if msg != "" {
			res.Failed = append(res.Failed, Failure{Message: msg, Data: map[string]any{"privacy_request_id": id}})
			continue
		}
		u.Log.InfoContext(ctx, "privacy request decided", logkey.PrivacyRequestID, id, logkey.Status, string(r.Status), "actor", d.Actor)
		res.Succeeded = append(res.Succeeded, r)
	}
	return res, nil
}

// decideOne approves or denies one request: the move an admin decision makes.
func (u *Requests) decideOne(ctx context.Context, id string, d Decision, ev Event) (*PrivacyRequest, string, error) {
	return u.moveOne(ctx, id, ev, func(cur *PrivacyRequest, to Status, now time.Time) (Change, string) {
		c := Change{ID: id, From: cur.Status, To: to, At: now, ReviewedBy: d.Actor}
		if ev == EventApprove {
			c.Approved = true
			c.Activity = []ActivityEntry{{At: now, Kind: KindAdminApproved, Actor: d.Actor}}
		} else {
			c.DenyReason = d.Reason
			c.Activity = []ActivityEntry{{At: now, Kind: KindAdminDenied, Reason: d.Reason, Actor: d.Actor}}
		}
		return c, ""
	})
}

// moveOne makes one admin move of request id, for event ev, with the change
// that change builds from the request as read (or the failure message it
// gives instead). It returns the request after the move, or a failure
// message. A write that took effect although its answer was lost (our SDK's
// retry then meets our own result and is refused) is told apart from another
// writer's move by comparing the stored request with what we wrote.
func (u *Requests) moveOne(ctx context.Context, id string, ev Event,
	change func(cur *PrivacyRequest, to Status, now time.Time) (Change, string)) (*PrivacyRequest, string, error) {
	var nf *NotFoundError
	var cf *ConflictError
	var tried *Change // our last write whose outcome is unknown
	for range maxRetries {
		cur, err := u.get(ctx, id)
		if errors.As(err, &nf) {
			return nil, fmt.Sprintf("No privacy request found with id '%s'", id), nil
		}
		if err != nil {
			return nil, "", err
		}
		if tried != nil && wrote(cur, *tried) {
			return cur, "", nil
		}
		to, err := Next(cur.Status, ev)
		if err != nil {
			return nil, msgCannotTransition, nil
		}
		c, failed := change(cur, to, u.now())
		if failed != "" {
			return nil, failed, nil
		}
		r, err := u.Store.Apply(ctx, c)
		if errors.As(err, &cf) {
			tried = &c
			continue // the status moved under us (perhaps by this very write): look again
		}
		if errors.As(err, &nf) {
			return nil, fmt.Sprintf("No privacy request found with id '%s'", id), nil
		}
		var big *ItemTooLargeError
		if errors.As(err, &big) {
			return nil, msgItemTooLarge, nil
		}
		if err != nil {
			return nil, "", err
		}
		return r, "", nil
	}
	// Refused every time (other writes of the request kept coming first):
	// this item fails, and a bulk route goes on with the others.
	u.Log.WarnContext(ctx, "admin move refused on every attempt", logkey.PrivacyRequestID, id, "attempts", maxRetries)
	return nil, msgConcurrentChanges, nil
}

// wrote reports whether r shows c applied: the status c moved to, and the
// last timeline entry c appended, at c's instant and by c's actor. The
// instant is to the microsecond, so another call's write cannot match.
func wrote(r *PrivacyRequest, c Change) bool {
	if r.Status != c.To || len(c.Activity) == 0 || len(r.Activity) == 0 {
		return false
	}
	if c.Run > 0 && r.Run != c.Run {
		return false
	}
	if c.ReviewedBy != "" && (r.ReviewedAt == nil || !r.ReviewedAt.Equal(c.At) || r.ReviewedBy != c.ReviewedBy) {
		return false
	}
	want := c.Activity[len(c.Activity)-1]
	for _, e := range r.Activity {
		if e.Kind == want.Kind && e.At.Equal(want.At) && e.Actor == want.Actor && e.Reason == want.Reason {
			return true
		}
	}
	return false
}

// MaxPreApprovalReruns bounds the admin's re-runs of one request's
// pre-approval, so the request's stored size has a documented maximum.
const MaxPreApprovalReruns = 3

// RetryPreApproval re-runs pre-approval for each pending request: a fresh
// snapshot of the configured webhooks, and the move back to
// awaiting_pre_approval in one conditional write; the stream then enqueues
// the new run's deliveries, whose calls carry new tokens and new ids. It is
// an admin's recovery after a validator outage.
func (u *Requests) RetryPreApproval(ctx context.Context, d Decision) (BulkResult, error) {
	if len(d.IDs) == 0 || len(d.IDs) > MaxBulk {
		return BulkResult{}, Invalid(fmt.Sprintf("ensure this value has between 1 and %d items", MaxBulk), "value_error.list.size", "body", "request_ids")
	}
	if err := checkActor(d.Actor); err != nil {
		return BulkResult{}, err
	}
	hooks, err := u.listWebhooks(ctx)
	if err != nil {
		return BulkResult{}, err
	}
	res := BulkResult{Succeeded: []*PrivacyRequest{}, Failed: []Failure{}}
	for _, id := range d.IDs {
		r, msg, err := u.rerunOne(ctx, id, d.Actor, hooks)
		if err != nil {
			return res, err
		}
		if msg != "" {
			res.Failed = append(res.Failed, Failure{Message: msg, Data: map[string]any{"privacy_request_id": id}})
			continue
		}
		u.Log.InfoContext(ctx, "pre-approval re-run", logkey.PrivacyRequestID, id, logkey.Status, string(r.Status), "actor", d.Actor, "run", r.Run)
		res.Succeeded = append(res.Succeeded, r)
	}
	return res, nil
}

// rerunOne re-runs pre-approval of one pending request with a fresh
// snapshot of the configured webhooks.
func (u *Requests) rerunOne(ctx context.Context, id, actor string, hooks WebhookConfig) (*PrivacyRequest, string, error) {
	return u.moveOne(ctx, id, EventRetryPreApproval, func(cur *PrivacyRequest, to Status, now time.Time) (Change, string) {
		if cur.Run >= MaxPreApprovalReruns {
			return Change{}, fmt.Sprintf("Pre-approval was already re-run %d times for privacy request '%s'.", MaxPreApprovalReruns, id)
		}
		inScope := InScope(hooks.Webhooks, cur.PolicyAction)
		if len(Enforced(inScope)) == 0 {
			// Shadow webhooks alone would leave the request awaiting nothing that decides.
			return Change{}, fmt.Sprintf("No pre-approval webhook in enforce mode applies to %s requests; approve or deny the request instead.", cur.PolicyAction)
		}
		snapshot, entries := webhookSnapshot(inScope, now)
		return Change{ID: id, From: cur.Status, To: to, At: now, Webhooks: snapshot, WebhooksVersion: hooks.Version, Run: cur.Run + 1,
			Activity: append([]ActivityEntry{{At: now, Kind: KindRerun, Actor: actor}}, entries...)}, ""
	})
}

// identityKey is the identity hash key, once read.
func (u *Requests) identityKey(ctx context.Context) (IdentityKey, error) {
	if u.IdentityKey == nil {
		return nil, nil
	}
	return u.IdentityKey.IdentityKey(ctx)
}
