package stream

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/logkey"
)

// Deliveries enqueues one delivery per webhook of the snapshot when a
// request takes one: when it enters awaiting_pre_approval, at its submission or
// verification, or when an admin re-runs pre-approval from pending; and
// when it is admitted straight to pending with shadow webhooks only. Later
// changes of the request (replies, attempts, moves) enqueue nothing.
type Deliveries struct {
	Queue gate.DeliveryQueue
	Log   *slog.Logger
}

// Handle looks at one stream record.
func (d *Deliveries) Handle(ctx context.Context, rec events.DynamoDBEventRecord) error {
	if !tookSnapshot(gate.Status(str(rec.Change.OldImage, dynamo.AttrStatus)), gate.Status(str(rec.Change.NewImage, dynamo.AttrStatus))) {
		return nil
	}
	id := str(rec.Change.NewImage, dynamo.AttrID)
	run := 0
	if v, ok := rec.Change.NewImage[dynamo.AttrRun]; ok && v.DataType() == events.DataTypeNumber {
		run, _ = strconv.Atoi(v.Number())
	}
	var keys []string
	if hooks, ok := rec.Change.NewImage[dynamo.AttrWebhooks]; ok && hooks.DataType() == events.DataTypeList {
		for _, h := range hooks.List() {
			if h.DataType() != events.DataTypeMap {
				continue
			}
			keys = append(keys, str(h.Map(), dynamo.AttrHookKey))
		}
	}
	ds := gate.DeliveriesOf(id, run, keys)
	if len(ds) == 0 {
		return nil
	}
	if err := d.Queue.EnqueueDeliveries(ctx, ds); err != nil {
		return err
	}
	d.Log.InfoContext(ctx, "deliveries enqueued", logkey.PrivacyRequestID, id, "deliveries", len(ds))
	return nil
}

// tookSnapshot says whether a request moving from one status to another
// took a webhook snapshot with that move: its admission (from nothing, or
// from identity_unverified) or a re-run. An admission to pending takes one
// only when shadow webhooks apply; its snapshot is empty otherwise.
func tookSnapshot(from, to gate.Status) bool {
	switch to {
	case gate.StatusAwaitingPreApproval:
		return from != gate.StatusAwaitingPreApproval
	case gate.StatusPending:
		return from == gate.StatusNew || from == gate.StatusIdentityUnverified
	}
	return false
}
