package dynamo

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/dynamo/timelinecode"
	"github.com/pregate/pregate/internal/gate"
)

// The timeline is stored compactly, so that a request's item stays small
// however long its life (docs/storage.md, "Largest item"):
//   - short attribute names, the time as a number of microseconds, the
//     action as a code;
//   - the webhook key as the index of that webhook in the snapshot of the
//     entry's pre-approval run, and each webhook name in the message as such
//     an index, with the rest of the message kept as text (its common
//     fragments as codes).
//
// An entry belongs to the run of the last pre_approval_webhook_triggered
// entry at or before it. The current run's snapshot is the item's webhooks;
// a re-run keeps the snapshot it replaces in runs (as an empty list when the
// new snapshot has the same keys and names). Reads rebuild every message
// exactly. Entries written before this layout (at, action, message, ...)
// are still read as they are.

// activityItem is one stored timeline entry, in either layout.
type activityItem struct {
	// The first layout, still read.
	At         string `dynamodbav:"at,omitempty"`
	Message    string `dynamodbav:"message,omitempty"`
	WebhookKey string `dynamodbav:"webhook_key,omitempty"`
	Actor      string `dynamodbav:"actor,omitempty"`
	// Action is the action in the first layout, and in the compact one an
	// action without a code.
	Action string `dynamodbav:"action,omitempty"`
	// The compact layout (T set).
	T int64     `dynamodbav:"t,omitempty"` // unix microseconds
	A int       `dynamodbav:"a,omitempty"` // the action's timelinecode
	W *int      `dynamodbav:"w,omitempty"` // the webhook key, as its index in the run's snapshot
	M []msgPart `dynamodbav:"m,omitempty"` // the message, when it names webhooks
	S string    `dynamodbav:"s,omitempty"` // the message, when it names none
	Y string    `dynamodbav:"y,omitempty"` // the actor
	// D marks an entry whose message is the request's deny_reason, and V one
	// whose actor is its reviewed_by, each stored once, on the request (an
	// admin decision's entry).
	D bool `dynamodbav:"d,omitempty"`
	V bool `dynamodbav:"v,omitempty"`
}

// itemRefs are the request's fields a decision's entry refers to rather
// than repeats.
type itemRefs struct{ denyReason, reviewer string }

// runHook is one webhook of an earlier run's snapshot.
type runHook struct {
	Key  string `dynamodbav:"k"`
	Name string `dynamodbav:"n"`
}

// fragments are the common pieces of messages, stored as negative codes
// (-1 is fragments[1]). Append only: stored items name them by position.
var fragments = []string{1: "Called pre-approval webhook '", 2: "': HTTP ", 3: "Pre-approval webhook '", 4: "' failed after ",
	5: "' responded: eligible", 6: "Request flagged for manual review by pre-approval webhooks. Webhook '",
	7: "' responded: not eligible", 8: "Triggered pre-approval webhooks: ", 9: ", ", 10: "Review deadline of ",
	11: "' was removed from the configuration and is no longer awaited", 12: " passed with no reply from pre-approval webhooks: "}

// msgPart is a piece of a stored message: text (S), or a number (N): a
// webhook name (its index, ≥ 0) or a fragment (its negative code).
type msgPart struct {
	text string
	num  int
	isN  bool
}

func (p msgPart) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	if p.isN {
		return &types.AttributeValueMemberN{Value: strconv.Itoa(p.num)}, nil
	}
	return &types.AttributeValueMemberS{Value: p.text}, nil
}

func (p *msgPart) UnmarshalDynamoDBAttributeValue(av types.AttributeValue) error {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		*p = msgPart{text: v.Value}
	case *types.AttributeValueMemberN:
		n, err := strconv.Atoi(v.Value)
		if err != nil {
			return fmt.Errorf("message part %q: %w", v.Value, err)
		}
		*p = msgPart{num: n, isN: true}
	default:
		return fmt.Errorf("message part of type %T", av)
	}
	return nil
}

// toActivityItems stores es compactly; an entry whose message is the deny
// reason or whose actor is the reviewer written with it (a decision's
// entry) refers to that field instead.
func toActivityItems(es []gate.ActivityEntry, refs itemRefs) []activityItem {
	out := make([]activityItem, len(es))
	for i, e := range es {
		out[i] = compactEntry(e)
		if refs.denyReason != "" && out[i].S == refs.denyReason {
			out[i].S, out[i].D = "", true
		}
		if refs.reviewer != "" && out[i].Y == refs.reviewer {
			out[i].Y, out[i].V = "", true
		}
	}
	return out
}

func compactEntry(e gate.ActivityEntry) activityItem {
	it := activityItem{T: e.At.UnixMicro(), Y: e.Actor, S: e.Message, WebhookKey: e.WebhookKey}
	if c := timelinecode.Code(e.Action); c > 0 {
		it.A = c
	} else {
		it.Action = e.Action
	}
	if e.WebhookKey != "" {
		for _, m := range e.Mentions {
			if m.Key == e.WebhookKey {
				i := m.Index
				it.W, it.WebhookKey = &i, ""
				break
			}
		}
	}
	if parts := splitMessage(e.Message, e.Mentions); parts != nil {
		it.M, it.S = parts, ""
	}
	return it
}

// splitMessage cuts msg at the names of mentions, in order, into text and
// name indexes; nil when it names none (or not as mentions says).
func splitMessage(msg string, mentions []gate.Mention) []msgPart {
	var parts []msgPart
	pos, refs := 0, 0
	for _, m := range mentions {
		if m.Name == "" || m.Index < 0 {
			continue
		}
		// Fragments first, so a name that is also a word of the text
		// ("Called") is still found where the message names it.
		for f := leadingFragment(msg[pos:], m.Name); f > 0; f = leadingFragment(msg[pos:], m.Name) {
			parts = append(parts, msgPart{num: -f, isN: true})
			pos += len(fragments[f])
		}
		j := strings.Index(msg[pos:], m.Name)
		if j < 0 {
			return nil
		}
		parts = appendText(parts, msg[pos:pos+j])
		parts = append(parts, msgPart{num: m.Index, isN: true})
		pos += j + len(m.Name)
		refs++
	}
	if refs == 0 {
		return nil
	}
	return appendText(parts, msg[pos:])
}

// leadingFragment is the code of the fragment s starts with when name still
// follows it, else 0.
func leadingFragment(s, name string) int {
	for c := 1; c < len(fragments); c++ {
		if strings.HasPrefix(s, fragments[c]) && strings.Contains(s[len(fragments[c]):], name) {
			return c
		}
	}
	return 0
}

// appendText appends s, its leading fragments as codes.
func appendText(parts []msgPart, s string) []msgPart {
	for s != "" {
		code := 0
		for c := 1; c < len(fragments); c++ {
			if strings.HasPrefix(s, fragments[c]) {
				code = c
				break
			}
		}
		if code == 0 {
			return append(parts, msgPart{text: s})
		}
		parts = append(parts, msgPart{num: -code, isN: true})
		s = s[len(fragments[code]):]
	}
	return parts
}

// timelineReader rebuilds entries: it knows the snapshot of every run.
type timelineReader struct {
	current []runHook
	runs    [][]runHook
	refs    itemRefs
	run     int // of the entry being read: triggered entries so far, minus one
}

func newTimelineReader(current []snapshotItem, runs [][]runHook, refs itemRefs) *timelineReader {
	cur := make([]runHook, len(current))
	for i, w := range current {
		cur[i] = runHook{Key: w.Key, Name: w.Name}
	}
	return &timelineReader{current: cur, runs: runs, refs: refs, run: -1}
}

// snapshot is the snapshot of run n: runs[n], or the next one stored when
// that is empty (the same keys and names), or the current one.
func (t *timelineReader) snapshot(n int) []runHook {
	for ; n >= 0 && n < len(t.runs); n++ {
		if len(t.runs[n]) > 0 {
			return t.runs[n]
		}
	}
	return t.current
}

func (t *timelineReader) entry(it activityItem, p *timeParser) gate.ActivityEntry {
	if it.T == 0 { // the first layout
		if it.Action == gate.ActionWebhookTriggered {
			t.run++
		}
		return gate.ActivityEntry{At: p.at(it.At), Action: it.Action, Message: it.Message, WebhookKey: it.WebhookKey, Actor: it.Actor}
	}
	e := gate.ActivityEntry{At: time.UnixMicro(it.T).UTC(), Action: it.Action, Message: it.S, WebhookKey: it.WebhookKey, Actor: it.Y}
	if a := timelinecode.Action(it.A); a != "" {
		e.Action = a
	}
	if it.D {
		e.Message = t.refs.denyReason
	}
	if it.V {
		e.Actor = t.refs.reviewer
	}
	if e.Action == gate.ActionWebhookTriggered {
		t.run++
	}
	hooks := t.snapshot(t.run)
	hook := func(i int) runHook {
		if i < 0 || i >= len(hooks) {
			if p.err == nil {
				p.err = fmt.Errorf("timeline names webhook %d of %d in run %d", i, len(hooks), t.run)
			}
			return runHook{}
		}
		return hooks[i]
	}
	if it.W != nil {
		e.WebhookKey = hook(*it.W).Key
	}
	if it.M != nil {
		var b strings.Builder
		for _, part := range it.M {
			switch {
			case !part.isN:
				b.WriteString(part.text)
			case part.num >= 0:
				b.WriteString(hook(part.num).Name)
			case -part.num < len(fragments):
				b.WriteString(fragments[-part.num])
			default:
				if p.err == nil {
					p.err = fmt.Errorf("unknown message fragment %d", part.num)
				}
			}
		}
		e.Message = b.String()
	}
	return e
}
