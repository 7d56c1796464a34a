package gate

import (
	"context"
	"errors"
	"testing"
)

// errTargets answers every lookup with err.
type errTargets struct{ err error }

func (e errTargets) DeliveryTargets(_ context.Context, keys []string) map[string]TargetResult {
	out := map[string]TargetResult{}
	for _, k := range keys {
		out[k] = TargetResult{Err: e.err}
	}
	return out
}

type failingMinter struct{}

func (failingMinter) MintReply(string, string, int) (string, error) {
	return "", errors.New("key set has no current key")
}

// fullOnce refuses the first delivery write for item size.
type fullOnce struct {
	*memDeliveryStore
	refused bool
}

func (f *fullOnce) RecordDeliveries(ctx context.Context, w DeliveryWrite) error {
	if !f.refused {
		f.refused = true
		return &ItemTooLargeError{Msg: "too large"}
	}
	return f.memDeliveryStore.RecordDeliveries(ctx, w)
}

// A delivery that cannot be made for a reason of ours ends failed, the
// request pending, with the reason on the timeline: at once when the
// connection has no secrets or the item is full, after MaxOwnFaultReceives
// receives for a fault that may pass (secrets or keys that cannot be opened).
func TestOwnFaultsEndInAFailedDelivery(t *testing.T) {
	cases := []struct {
		name     string
		setup    func(*Dispatcher, *memDeliveryStore)
		receives int
		retried  bool   // the attempt is kept for another try
		message  string // the failed entry
	}{
		{"no secrets", func(d *Dispatcher, _ *memDeliveryStore) {
			d.Targets = errTargets{&NoSecretsError{ConnectionKey: "crm"}}
		}, 1, false,
			"Pre-approval webhook 'Hook' failed: its connection 'crm' has no secrets"},
		{"unopenable secrets, first receive", func(d *Dispatcher, _ *memDeliveryStore) {
			d.Targets = errTargets{&UnopenableSecretsError{What: "the secrets of its connection 'crm'", Err: errors.New("kms: AccessDenied")}}
		}, 1, true, ""},
		{"unopenable secrets, last receive", func(d *Dispatcher, _ *memDeliveryStore) {
			d.Targets = errTargets{&UnopenableSecretsError{What: "the secrets of its connection 'crm'", Err: errors.New("kms: AccessDenied")}}
		}, DefaultMaxOwnFaultReceives, false, "Pre-approval webhook 'Hook' failed: the secrets of its connection 'crm' could not be opened"},
		{"bad key set, first receive", func(d *Dispatcher, _ *memDeliveryStore) { d.Tokens = failingMinter{} }, 4, true, ""},
		{"bad key set, last receive", func(d *Dispatcher, _ *memDeliveryStore) { d.Tokens = failingMinter{} }, 5, false,
			"Pre-approval webhook 'Hook' failed: a fault on our side persisted: mint reply token: key set has no current key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, store, caller := newDispatchFixture(StatusAwaitingPreApproval, "", CallResult{OK: true, StatusCode: 200})
			tc.setup(d, store)
			r := d.DeliverBatch(context.Background(), []Attempt{{Delivery: Delivery{ID: "pri_1:hook", PrivacyRequestID: "pri_1", WebhookKey: "hook"},
				Number: 1, Receives: tc.receives}})[0]
			req := store.reqs["pri_1"]
			if tc.retried {
				if r.Err == nil || req.Status != StatusAwaitingPreApproval || len(req.Activity) != 0 {
					t.Fatalf("result %+v, request %+v: want the attempt kept and nothing recorded", r, req)
				}
				return
			}
			if r.Err != nil || r.Outcome.Kind != OutcomeFailed || caller.calls != 0 {
				t.Fatalf("result %+v, %d calls", r, caller.calls)
			}
			if req.Status != StatusPending || req.Webhooks[1].Delivery != WebhookFailed || req.Webhooks[1].Attempts != 0 {
				t.Fatalf("request %+v", req)
			}
			if len(req.Activity) != 2 || req.Activity[0].Action() != ActionWebhookFailed || req.Activity[0].Message() != tc.message ||
				req.Activity[1].Message() != "Status changed from awaiting_pre_approval to pending" {
				t.Fatalf("timeline %+v", req.Activity)
			}
		})
	}

	// The item is full: the call was made, but cannot be recorded as called;
	// the delivery is recorded failed at once rather than retried for hours.
	d, store, _ := newDispatchFixture(StatusAwaitingPreApproval, "", CallResult{OK: true, StatusCode: 200})
	d.Store = &fullOnce{memDeliveryStore: store}
	r := d.DeliverBatch(context.Background(), []Attempt{{Delivery: Delivery{ID: "pri_1:hook", PrivacyRequestID: "pri_1", WebhookKey: "hook"}, Number: 1, Receives: 1}})[0]
	req := store.reqs["pri_1"]
	if r.Err != nil || r.Outcome.Kind != OutcomeFailed || req.Status != StatusPending || len(req.Activity) == 0 ||
		req.Activity[0].Message() != "Pre-approval webhook 'Hook' failed: the privacy request's record is full, so the call could not be recorded" {
		t.Fatalf("item full: result %+v, request %+v", r, req)
	}
}
