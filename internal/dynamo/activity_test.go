package dynamo

import (
	"crypto/sha256"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

// A timeline stored as facts reads back exactly, and small: webhooks as
// indexes into the snapshot, the kind and the time as numbers, no text but
// the free texts (reason, actor), and a decision's reason and actor stored
// once, on the request.
func TestTimelineRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 3, 7, 0, 0, 123456000, time.UTC)
	hooks := []gate.SnapshotWebhook{{Key: "crm", Name: "Called"}, {Key: "ticketing", Name: "Ticketing, the 'big' one"}, {Key: "k3", Name: "é😀", Mode: gate.ModeShadow}}
	r := &gate.PrivacyRequest{ID: gate.NewRequestID(), Status: gate.StatusDenied, PolicyKey: "default_access_policy", PolicyAction: "access",
		CreatedAt: at, UpdatedAt: at, Webhooks: hooks, DenyReason: "not a customer", ReviewedBy: "admin"}
	var all []gate.Mention
	for i, h := range hooks {
		all = append(all, gate.Mention{Index: i, Key: h.Key, Name: h.Name, Shadow: h.Shadow()})
	}
	one := func(i int) []gate.Mention { return all[i : i+1] }
	sum := sha256.Sum256([]byte(`{"privacy_request_id":"..."}`))
	r.Activity = []gate.ActivityEntry{
		{At: at, Kind: gate.KindTriggered, Hooks: all},
		{At: at.Add(time.Microsecond), Kind: gate.KindCalled, Hooks: one(0), HTTPStatus: 200, Latency: 1234 * time.Millisecond, BodySHA256: sum[:]},
		{At: at, Kind: gate.KindFailed, Hooks: one(1), Attempts: 10, Reason: "HTTP 503"},
		{At: at, Kind: gate.KindFailedToPending, Hooks: one(1)},
		{At: at, Kind: gate.KindDeadlinePassed, Hooks: []gate.Mention{all[0], all[2]}, Deadline: 72 * time.Hour},
		{At: at, Kind: gate.KindEligible, Hooks: one(0)},
		{At: at, Kind: gate.KindShadowNotEligible, Hooks: one(2)},
		{At: at, Kind: gate.KindRerun, Actor: "someone else"},
		{At: at, Kind: gate.KindAdminDenied, Reason: "not a customer", Actor: "admin"},
	}
	av := Item(r)
	got, err := unmarshalRequest(av)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Activity, r.Activity) {
		t.Errorf("timeline reads back as\n%+v\nwant\n%+v", got.Activity, r.Activity)
	}
	stored := av[AttrActivity].(*types.AttributeValueMemberL).Value
	if n := AttributeSize(stored[1]); n > 26+40 { // 40: the evidence, the latency and the SHA-256 of the body sent
		t.Errorf("the called entry takes %d bytes", n)
	}
	denial := stored[len(stored)-1].(*types.AttributeValueMemberM).Value
	if _, ok := denial[entryReason]; ok {
		t.Errorf("the denial repeats its reason: %v", denial)
	}
}

// A stored entry the reader cannot make sense of is an error, never a
// line with a wrong text.
func TestTimelineRefusesWhatItCannotRead(t *testing.T) {
	hooks := []runHook{{Key: "crm", Name: "CRM"}}
	entry := func(kind gate.ActivityKind, more map[string]types.AttributeValue) types.AttributeValue {
		m := map[string]types.AttributeValue{entryAt: number(1), AttrEntryKind: number(int64(kind))}
		for k, v := range more {
			m[k] = v
		}
		return &types.AttributeValueMemberM{Value: m}
	}
	for name, it := range map[string]types.AttributeValue{
		"unknown kind":       entry(99, nil),
		"webhook not in run": entry(gate.KindCalled, map[string]types.AttributeValue{entryHook: number(3)}),
		"one of several out": entry(gate.KindTriggered, map[string]types.AttributeValue{entryHooks: &types.AttributeValueMemberL{Value: []types.AttributeValue{number(0), number(1)}}}),
		"not a map":          stringValue("x"),
		"kind not a number":  &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{entryAt: number(1), AttrEntryKind: stringValue("6")}},
	} {
		if _, err := readActivity([]types.AttributeValue{it}, hooks, itemRefs{}); err == nil || !strings.Contains(err.Error(), "timeline entry 0") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
