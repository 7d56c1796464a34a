package dynamo

import (
	"fmt"
	"time"

	"github.com/pregate/pregate/internal/gate"
)

// A timeline entry is stored as facts, never as text (docs/internals/storage.md,
// "Timeline"): its kind as a number, the time as unix microseconds, the
// webhooks it is about as their indexes in the snapshot of the entry's run,
// and its numbers and free texts (reason, actor) as they are. The domain
// makes the API's action and message from them when read (gate's
// activityTexts). An entry belongs to the item that holds it: the request's
// item holds the current run's entries and snapshot, an archive item an
// earlier run's (archive.go), so an index always names a webhook of the
// snapshot stored beside it.

// activityItem is one stored timeline entry.
type activityItem struct {
	T int64             `dynamodbav:"t"`           // unix microseconds
	K gate.ActivityKind `dynamodbav:"k"`           // what happened
	W *int              `dynamodbav:"w,omitempty"` // the one webhook it is about, as its snapshot index
	L []int             `dynamodbav:"l,omitempty"` // the webhooks, when it is about several
	H int               `dynamodbav:"h,omitempty"` // HTTP status
	N int               `dynamodbav:"n,omitempty"` // attempts
	R string            `dynamodbav:"r,omitempty"` // reason
	D time.Duration     `dynamodbav:"d,omitempty"` // the review deadline that passed
	E int               `dynamodbav:"e,omitempty"` // the days an extension added
	P string            `dynamodbav:"p,omitempty"` // the policy action no webhook applies to
	Y string            `dynamodbav:"y,omitempty"` // actor
	// Q marks an entry whose reason is the request's deny_reason, and V one
	// whose actor is its reviewed_by, each then stored once, on the request
	// (an admin decision's entry).
	Q bool `dynamodbav:"q,omitempty"`
	V bool `dynamodbav:"v,omitempty"`
}

// itemRefs are the request's fields a decision's entry refers to rather
// than repeats.
type itemRefs struct{ denyReason, reviewer string }

// runHook is one webhook of an archived run's snapshot.
type runHook struct {
	Key    string `dynamodbav:"k"`
	Name   string `dynamodbav:"n"`
	Shadow bool   `dynamodbav:"s,omitempty"`
}

// toActivityItems stores es; an entry whose reason is the deny reason or
// whose actor is the reviewer written with it refers to that field instead.
func toActivityItems(es []gate.ActivityEntry, refs itemRefs) []activityItem {
	out := make([]activityItem, len(es))
	for i, e := range es {
		it := activityItem{T: e.At.UnixMicro(), K: e.Kind, H: e.HTTPStatus, N: e.Attempts, R: e.Reason, D: e.Deadline, E: e.Days, P: e.PolicyAction, Y: e.Actor}
		if len(e.Hooks) == 1 {
			it.W = &e.Hooks[0].Index
		} else {
			for _, h := range e.Hooks {
				it.L = append(it.L, h.Index)
			}
		}
		if refs.denyReason != "" && it.R == refs.denyReason {
			it.R, it.Q = "", true
		}
		if refs.reviewer != "" && it.Y == refs.reviewer {
			it.Y, it.V = "", true
		}
		out[i] = it
	}
	return out
}

// readActivity reads entries stored beside snapshot hooks.
func readActivity(items []activityItem, hooks []runHook, refs itemRefs) ([]gate.ActivityEntry, error) {
	out := make([]gate.ActivityEntry, len(items))
	for i, it := range items {
		if !it.K.Known() {
			return nil, fmt.Errorf("timeline entry %d: unknown kind %d", i, it.K)
		}
		e := gate.ActivityEntry{At: time.UnixMicro(it.T).UTC(), Kind: it.K, HTTPStatus: it.H, Attempts: it.N, Reason: it.R,
			Deadline: it.D, Days: it.E, PolicyAction: it.P, Actor: it.Y}
		if it.Q {
			e.Reason = refs.denyReason
		}
		if it.V {
			e.Actor = refs.reviewer
		}
		idx := it.L
		if it.W != nil {
			idx = []int{*it.W}
		}
		for _, n := range idx {
			if n < 0 || n >= len(hooks) {
				return nil, fmt.Errorf("timeline entry %d names webhook %d of %d", i, n, len(hooks))
			}
			e.Hooks = append(e.Hooks, gate.Mention{Index: n, Key: hooks[n].Key, Name: hooks[n].Name, Shadow: hooks[n].Shadow})
		}
		out[i] = e
	}
	return out, nil
}
