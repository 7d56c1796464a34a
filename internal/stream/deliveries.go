package stream

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/logkey"
)

// Deliveries enqueues one delivery per webhook of the snapshot when a
// request enters awaiting_pre_approval, at its submission or
// verification, or when an admin re-runs pre-approval from pending. Later changes of an
// awaiting request (replies, attempts) are not entries and enqueue nothing.
type Deliveries struct {
	Queue gate.DeliveryQueue
	Log   *slog.Logger
}

// Handle looks at one stream record.
func (d *Deliveries) Handle(ctx context.Context, rec events.DynamoDBEventRecord) error {
	awaiting := string(gate.StatusAwaitingPreApproval)
	if str(rec.Change.NewImage, "status") != awaiting || str(rec.Change.OldImage, "status") == awaiting {
		return nil
	}
	id := str(rec.Change.NewImage, "id")
	run := 0
	if v, ok := rec.Change.NewImage["pre_approval_run"]; ok && v.DataType() == events.DataTypeNumber {
		run, _ = strconv.Atoi(v.Number())
	}
	var keys []string
	if hooks, ok := rec.Change.NewImage["webhooks"]; ok && hooks.DataType() == events.DataTypeList {
		for _, h := range hooks.List() {
			if h.DataType() != events.DataTypeMap {
				continue
			}
			keys = append(keys, str(h.Map(), "key"))
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
