package dynamo

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
// snapshot stored beside it. The names are item.go's.

// itemRefs are the request's fields a decision's entry refers to rather
// than repeats.
type itemRefs struct{ denyReason, reviewer string }

// runHook is one webhook of a run's snapshot, as its timeline names it.
type runHook struct {
	Key, Name string
	Shadow    bool
}

// activityValue stores es; an entry whose reason is the deny reason or
// whose actor is the reviewer written with it refers to that field instead.
func activityValue(es []gate.ActivityEntry, refs itemRefs) types.AttributeValue {
	out := make([]types.AttributeValue, len(es))
	for i, e := range es {
		m := map[string]types.AttributeValue{entryAt: micros(e.At), AttrEntryKind: number(int64(e.Kind))}
		if len(e.Hooks) == 1 {
			m[entryHook] = number(int64(e.Hooks[0].Index))
		} else if len(e.Hooks) > 1 {
			l := make([]types.AttributeValue, len(e.Hooks))
			for j, h := range e.Hooks {
				l[j] = number(int64(h.Index))
			}
			m[entryHooks] = &types.AttributeValueMemberL{Value: l}
		}
		optNumber(m, entryHTTP, int64(e.HTTPStatus))
		optNumber(m, entryLatency, e.Latency.Milliseconds())
		if len(e.BodySHA256) > 0 {
			m[entryBodySum] = &types.AttributeValueMemberB{Value: e.BodySHA256}
		}
		optNumber(m, entryAttempts, int64(e.Attempts))
		optNumber(m, entryDeadline, int64(e.Deadline))
		optNumber(m, entryDays, int64(e.Days))
		optString(m, entryAction, e.PolicyAction)
		switch {
		case refs.denyReason != "" && e.Reason == refs.denyReason:
			m[entryIsDeny] = &types.AttributeValueMemberBOOL{Value: true}
		default:
			optString(m, entryReason, e.Reason)
		}
		switch {
		case refs.reviewer != "" && e.Actor == refs.reviewer:
			m[entryIsReview] = &types.AttributeValueMemberBOOL{Value: true}
		default:
			optString(m, entryActor, e.Actor)
		}
		out[i] = &types.AttributeValueMemberM{Value: m}
	}
	return &types.AttributeValueMemberL{Value: out}
}

func optNumber(m map[string]types.AttributeValue, name string, n int64) {
	if n != 0 {
		m[name] = number(n)
	}
}

// readActivity reads entries stored beside snapshot hooks.
func readActivity(items []types.AttributeValue, hooks []runHook, refs itemRefs) ([]gate.ActivityEntry, error) {
	out := make([]gate.ActivityEntry, len(items))
	for i, av := range items {
		m, ok := av.(*types.AttributeValueMemberM)
		if !ok {
			return nil, fmt.Errorf("timeline entry %d is not a map", i)
		}
		f := fields{item: m.Value}
		kind := gate.ActivityKind(f.num(AttrEntryKind))
		if !kind.Known() {
			return nil, fmt.Errorf("timeline entry %d: unknown kind %d", i, kind)
		}
		e := gate.ActivityEntry{At: f.time(entryAt), Kind: kind, HTTPStatus: int(f.num(entryHTTP)), Attempts: int(f.num(entryAttempts)),
			Latency: time.Duration(f.num(entryLatency)) * time.Millisecond, BodySHA256: f.bytes(entryBodySum),
			Reason: f.str(entryReason), Deadline: time.Duration(f.num(entryDeadline)), Days: int(f.num(entryDays)),
			PolicyAction: f.str(entryAction), Actor: f.str(entryActor)}
		if f.bool(entryIsDeny) {
			e.Reason = refs.denyReason
		}
		if f.bool(entryIsReview) {
			e.Actor = refs.reviewer
		}
		var idx []int
		if _, ok := m.Value[entryHook]; ok {
			idx = []int{int(f.num(entryHook))}
		}
		for _, n := range f.list(entryHooks) {
			v, ok := n.(*types.AttributeValueMemberN)
			if !ok {
				return nil, fmt.Errorf("timeline entry %d: a webhook that is not a number", i)
			}
			j, err := strconv.Atoi(v.Value)
			if err != nil {
				return nil, fmt.Errorf("timeline entry %d: %w", i, err)
			}
			idx = append(idx, j)
		}
		if f.err != nil {
			return nil, fmt.Errorf("timeline entry %d: %w", i, f.err)
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
