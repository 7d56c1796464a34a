package dynamo

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

// The requests table's attribute names, the one place they are written
// (docs/internals/storage.md, "One item per request"). They are short
// because DynamoDB bills a write per started KB of the item, names
// included: with these names a request with three webhooks stays under 1
// KB for its whole life. Times are unix microseconds (N), except the sort
// key's, which is text so that it sorts and pages as the API's cursor.
// template.yaml names the index keys and the TTL attribute, and its stream
// filters the status; the stream function reads records through the
// exported names.
const (
	AttrID          = "id"
	AttrStatus      = "s"  // S: the status
	attrShard       = "sh" // S: "00".."15", the hash key of the created and due indexes
	attrSortKey     = "sk" // S: "<created RFC 3339 micro>#<id>"; the creation time is read from it
	attrStatusShard = "ss" // S: "<status>#<shard>", the status index's hash key
	attrDue         = "du" // N: when the reconciler looks next; the due index's range key, present while due
	AttrPublishedAt = "pb" // N
	attrClaim       = "pc" // S: the publication claim's token
	attrClaimUntil  = "pu" // N
	attrPolicyKey   = "po"
	AttrPolicyAct   = "ac" // S: the policy's action
	attrEmail       = "em"
	attrPhone       = "ph"
	attrExternalID  = "ex"
	attrUpdatedAt   = "up" // N
	attrVerifiedAt  = "iv" // N
	attrReviewedAt  = "ra" // N
	attrReviewedBy  = "rb"
	attrDenyReason  = "dr"
	AttrApprovedAt  = "aa" // N
	AttrApprovedBy  = "ab"
	AttrWebhooks    = "wh" // L of M: the snapshot (snapshot entry names below)
	attrConfigVer   = "wv" // N: the configuration version the snapshot was taken from
	AttrActivity    = "tl" // L of M: the timeline (entry names below)
	AttrRun         = "rn" // N: re-runs of pre-approval so far; absent before the first
	attrCodeHash    = "ch"
	attrCodeExpires = "ce" // N
	attrCodeTries   = "ca" // N
	attrDueDate     = "dd" // N: epoch seconds; the deadline index's range key
	attrDueSet      = "ds" // S: "open#<shard>" or "decided#<shard>", the deadline index's hash key
	attrExtended    = "dx" // BOOL
	attrHashEmail   = "he" // the identity indexes' hash keys
	attrHashPhone   = "hp"
	attrHashExt     = "hx"
	// AttrExpires is the table's TTL attribute (template.yaml), epoch seconds.
	AttrExpires = "xp"
)

// A snapshot entry's names, and its states as stored.
const (
	AttrHookKey   = "k"
	hookName      = "n"
	hookShadow    = "s" // BOOL: true in shadow mode, absent in enforce (the usual case)
	hookDelivery  = "d" // a stateCode
	hookAttempts  = "a"
	hookReply     = "r" // a stateCode
	hookRepliedAt = "t" // N
)

// A timeline entry's names (activity.go).
const (
	entryAt       = "t" // N: unix microseconds
	AttrEntryKind = "k" // N: gate.ActivityKind
	entryHook     = "w" // N: the one webhook, as its snapshot index
	entryHooks    = "l" // L of N: the webhooks, when several
	entryHTTP     = "h"
	entryLatency  = "m" // N: a call's latency, in milliseconds
	entryBodySum  = "b" // B: the SHA-256 of a call's body (32 bytes)
	entryAttempts = "n"
	entryReason   = "r"
	entryDeadline = "d" // N: nanoseconds
	entryDays     = "e"
	entryAction   = "p"
	entryActor    = "y"
	entryIsDeny   = "q" // BOOL: the reason is the request's deny reason
	entryIsReview = "v" // BOOL: the actor is the request's reviewer
)

// stateCodes store a webhook's delivery and reply states in one letter.
var stateCodes = map[gate.WebhookState]string{
	gate.WebhookCalled: "c", gate.WebhookFailed: "f", gate.WebhookEligible: "e", gate.WebhookNotEligible: "n",
}

func stateCode(st gate.WebhookState) types.AttributeValue { return stringValue(stateCodes[st]) }

func stateOf(code string) (gate.WebhookState, error) {
	for st, c := range stateCodes {
		if c == code {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown webhook state %q", code)
}

// Item is r as the requests table stores it, and so as the table's stream
// shows it; make bench's in-memory pipeline builds stream records with it.
func Item(r *gate.PrivacyRequest) map[string]types.AttributeValue {
	sh := shard(r.ID)
	it := map[string]types.AttributeValue{
		AttrID: stringValue(r.ID), AttrStatus: stringValue(string(r.Status)), attrShard: stringValue(sh),
		attrSortKey: stringValue(gate.SortKey(r)), attrStatusShard: stringValue(statusShard(r.Status, r.ID)),
		attrDueSet:    stringValue(dueSetShard(r.Status, r.ID)),
		attrPolicyKey: stringValue(r.PolicyKey), AttrPolicyAct: stringValue(r.PolicyAction),
		attrUpdatedAt: micros(r.UpdatedAt),
		AttrWebhooks:  snapshotValue(r.Webhooks),
		AttrActivity:  activityValue(r.Activity, itemRefs{r.DenyReason, r.ReviewedBy}),
	}
	optString(it, attrEmail, r.Identity.Email)
	optString(it, attrPhone, r.Identity.PhoneNumber)
	optString(it, attrExternalID, r.ExternalID)
	optString(it, attrReviewedBy, r.ReviewedBy)
	optString(it, attrDenyReason, r.DenyReason)
	optString(it, AttrApprovedBy, r.ApprovedBy)
	optString(it, attrHashEmail, r.Hashes.Email)
	optString(it, attrHashPhone, r.Hashes.Phone)
	optString(it, attrHashExt, r.Hashes.External)
	optTime(it, attrVerifiedAt, r.IdentityVerifiedAt)
	optTime(it, attrReviewedAt, r.ReviewedAt)
	optTime(it, AttrApprovedAt, r.ApprovedAt)
	optTime(it, AttrPublishedAt, r.PublishedAt)
	optTime(it, attrDue, r.DueAt)
	if r.WebhooksVersion != 0 {
		it[attrConfigVer] = number(r.WebhooksVersion)
	}
	if r.Run != 0 {
		it[AttrRun] = number(int64(r.Run))
	}
	if c := r.Publishing; c != nil {
		it[attrClaim], it[attrClaimUntil] = stringValue(c.Token), micros(c.Until)
	}
	if c := r.Code; c != nil {
		it[attrCodeHash], it[attrCodeExpires], it[attrCodeTries] = stringValue(c.Hash), micros(c.ExpiresAt), number(int64(c.Attempts))
	}
	if r.DueDate != nil {
		it[attrDueDate] = number(r.DueDate.Unix())
	}
	if r.Extended {
		it[attrExtended] = &types.AttributeValueMemberBOOL{Value: true}
	}
	return it
}

func snapshotValue(ws []gate.SnapshotWebhook) types.AttributeValue {
	out := make([]types.AttributeValue, len(ws))
	for i, w := range ws {
		m := hookValue(snapshotHook(w))
		if w.Delivery != "" {
			m[hookDelivery] = stateCode(w.Delivery)
		}
		if w.Attempts != 0 {
			m[hookAttempts] = number(int64(w.Attempts))
		}
		if w.Reply != "" {
			m[hookReply] = stateCode(w.Reply)
		}
		optTime(m, hookRepliedAt, w.RepliedAt)
		out[i] = &types.AttributeValueMemberM{Value: m}
	}
	return &types.AttributeValueMemberL{Value: out}
}

// hookValue is a webhook's key, name and mode: an archived run's snapshot
// entry, and the start of a current one.
func hookValue(h runHook) map[string]types.AttributeValue {
	m := map[string]types.AttributeValue{AttrHookKey: stringValue(h.Key), hookName: stringValue(h.Name)}
	if h.Shadow {
		m[hookShadow] = &types.AttributeValueMemberBOOL{Value: true}
	}
	return m
}

func snapshotHook(w gate.SnapshotWebhook) runHook {
	return runHook{Key: w.Key, Name: w.Name, Shadow: w.Shadow()}
}

// runHooks reads a run's snapshot entries as its timeline names them.
func (f *fields) runHooks(name string) []runHook {
	var out []runHook
	for _, h := range f.maps(name) {
		out = append(out, runHook{Key: h.str(AttrHookKey), Name: h.str(hookName), Shadow: h.bool(hookShadow)})
		f.fail(h.err)
	}
	return out
}

// modeOf is a stored webhook's mode (shadow marked, enforce absent).
func modeOf(shadow bool) gate.WebhookMode {
	if shadow {
		return gate.ModeShadow
	}
	return gate.ModeEnforce
}

// unmarshalRequest reads a stored request item.
func unmarshalRequest(av map[string]types.AttributeValue) (*gate.PrivacyRequest, error) {
	f := fields{item: av}
	id := f.str(AttrID)
	r := &gate.PrivacyRequest{
		ID: id, Status: gate.Status(f.str(AttrStatus)), PolicyKey: f.str(attrPolicyKey), PolicyAction: f.str(AttrPolicyAct),
		Identity: gate.Identity{Email: f.str(attrEmail), PhoneNumber: f.str(attrPhone)}, ExternalID: f.str(attrExternalID),
		UpdatedAt: f.time(attrUpdatedAt), IdentityVerifiedAt: f.optTime(attrVerifiedAt), ReviewedAt: f.optTime(attrReviewedAt),
		ApprovedAt: f.optTime(AttrApprovedAt), PublishedAt: f.optTime(AttrPublishedAt), DueAt: f.optTime(attrDue),
		ReviewedBy: f.str(attrReviewedBy), DenyReason: f.str(attrDenyReason), ApprovedBy: f.str(AttrApprovedBy),
		Run: int(f.num(AttrRun)), WebhooksVersion: f.num(attrConfigVer), Extended: f.bool(attrExtended),
	}
	if created, _, ok := strings.Cut(f.str(attrSortKey), "#"); ok {
		at, err := time.Parse(time.RFC3339Nano, created)
		f.fail(err)
		r.CreatedAt = at
	} else {
		f.fail(fmt.Errorf("sort key %q", f.str(attrSortKey)))
	}
	if _, ok := av[attrClaim]; ok {
		r.Publishing = &gate.PublishClaim{Token: f.str(attrClaim), Until: f.time(attrClaimUntil)}
	}
	if _, ok := av[attrCodeHash]; ok {
		r.Code = &gate.VerificationCode{Hash: f.str(attrCodeHash), ExpiresAt: f.time(attrCodeExpires), Attempts: int(f.num(attrCodeTries))}
	}
	if _, ok := av[attrDueDate]; ok {
		due := time.Unix(f.num(attrDueDate), 0).UTC()
		r.DueDate = &due
	}
	r.Webhooks = f.snapshot(AttrWebhooks)
	if f.err != nil {
		return nil, fmt.Errorf("request %s: %w", id, f.err)
	}
	hooks := make([]runHook, len(r.Webhooks))
	for i, w := range r.Webhooks {
		hooks[i] = snapshotHook(w)
	}
	activity, err := readActivity(f.list(AttrActivity), hooks, itemRefs{r.DenyReason, r.ReviewedBy})
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", id, err)
	}
	r.Activity = activity
	return r, nil
}

// fields reads the attributes of one stored map, keeping the first error.
type fields struct {
	item map[string]types.AttributeValue
	err  error
}

func (f *fields) fail(err error) {
	if err != nil && f.err == nil {
		f.err = err
	}
}

func (f *fields) str(name string) string {
	switch v := f.item[name].(type) {
	case nil:
		return ""
	case *types.AttributeValueMemberS:
		return v.Value
	}
	f.fail(fmt.Errorf("%s is not a string", name))
	return ""
}

func (f *fields) num(name string) int64 {
	switch v := f.item[name].(type) {
	case nil:
		return 0
	case *types.AttributeValueMemberN:
		n, err := strconv.ParseInt(v.Value, 10, 64)
		f.fail(err)
		return n
	}
	f.fail(fmt.Errorf("%s is not a number", name))
	return 0
}

func (f *fields) bool(name string) bool {
	v, _ := f.item[name].(*types.AttributeValueMemberBOOL)
	return v != nil && v.Value
}

func (f *fields) bytes(name string) []byte {
	switch v := f.item[name].(type) {
	case nil:
		return nil
	case *types.AttributeValueMemberB:
		return v.Value
	}
	f.fail(fmt.Errorf("%s is not binary", name))
	return nil
}

func (f *fields) list(name string) []types.AttributeValue {
	switch v := f.item[name].(type) {
	case nil:
		return nil
	case *types.AttributeValueMemberL:
		return v.Value
	}
	f.fail(fmt.Errorf("%s is not a list", name))
	return nil
}

func (f *fields) time(name string) time.Time { return time.UnixMicro(f.num(name)).UTC() }

func (f *fields) optTime(name string) *time.Time {
	if _, ok := f.item[name]; !ok {
		return nil
	}
	t := f.time(name)
	return &t
}

// maps reads a list of maps.
func (f *fields) maps(name string) []fields {
	l := f.list(name)
	out := make([]fields, len(l))
	for i, e := range l {
		m, ok := e.(*types.AttributeValueMemberM)
		if !ok {
			f.fail(fmt.Errorf("%s[%d] is not a map", name, i))
			return nil
		}
		out[i] = fields{item: m.Value}
	}
	return out
}

func (f *fields) snapshot(name string) []gate.SnapshotWebhook {
	ms := f.maps(name)
	out := make([]gate.SnapshotWebhook, len(ms))
	for i, m := range ms {
		w := gate.SnapshotWebhook{Key: m.str(AttrHookKey), Name: m.str(hookName), Mode: modeOf(m.bool(hookShadow)),
			Attempts: int(m.num(hookAttempts)), RepliedAt: m.optTime(hookRepliedAt)}
		if d := m.str(hookDelivery); d != "" {
			st, err := stateOf(d)
			m.fail(err)
			w.Delivery = st
		}
		if r := m.str(hookReply); r != "" {
			st, err := stateOf(r)
			m.fail(err)
			w.Reply = st
		}
		f.fail(m.err)
		out[i] = w
	}
	return out
}

func micros(t time.Time) types.AttributeValue { return number(t.UnixMicro()) }

func number(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func stringValue(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func optString(m map[string]types.AttributeValue, name, v string) {
	if v != "" {
		m[name] = stringValue(v)
	}
}

func optTime(m map[string]types.AttributeValue, name string, t *time.Time) {
	if t != nil {
		m[name] = micros(*t)
	}
}

// placeholders are the names expressions use for the attributes above
// ("SET #status = :to"); exprNames gives a call's ExpressionAttributeNames.
var placeholders = map[string]string{
	"#id": AttrID, "#status": AttrStatus, "#shard": attrShard, "#sort": attrSortKey, "#status_shard": attrStatusShard,
	"#due": attrDue, "#published": AttrPublishedAt, "#claim": attrClaim, "#claim_until": attrClaimUntil,
	"#updated": attrUpdatedAt, "#verified_at": attrVerifiedAt, "#reviewed_at": attrReviewedAt, "#reviewed_by": attrReviewedBy,
	"#deny_reason": attrDenyReason, "#approved_at": AttrApprovedAt, "#approved_by": AttrApprovedBy,
	"#webhooks": AttrWebhooks, "#config_version": attrConfigVer, "#activity": AttrActivity, "#run": AttrRun,
	"#code_hash": attrCodeHash, "#code_expires": attrCodeExpires, "#code_tries": attrCodeTries,
	"#due_date": attrDueDate, "#due_set": attrDueSet, "#extended": attrExtended, "#expires": AttrExpires,
	"#key": AttrHookKey, "#delivery": hookDelivery, "#attempts": hookAttempts, "#reply": hookReply, "#replied_at": hookRepliedAt,
}

var placeholder = regexp.MustCompile(`#[a-z_]+`)

// exprNames maps every placeholder of exprs to its attribute; an unknown
// one is a bug of this package, so it panics.
func exprNames(exprs ...string) map[string]string {
	out := map[string]string{}
	for _, e := range exprs {
		for _, p := range placeholder.FindAllString(e, -1) {
			name, ok := placeholders[p]
			if !ok {
				panic("dynamo: no attribute for " + p)
			}
			out[p] = name
		}
	}
	return out
}
