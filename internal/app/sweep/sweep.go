// Package sweep wires the scheduled function that approves waiting requests
// whose still-configured webhooks have all replied eligible, and moves
// requests left awaiting pre-approval past REVIEW_DEADLINE to pending (that
// part off when unset). It builds the DynamoDB client, and no other.
package sweep

import (
	"context"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/stores"
	"github.com/pregate/pregate/internal/config"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/schedule"
)

// New is the scheduled function's handler.
func New(_ context.Context, d app.Deps) (*schedule.Handler, error) {
	if err := config.Require("REQUESTS_TABLE", d.Config.RequestsTable, "CONFIG_TABLE", d.Config.ConfigTable); err != nil {
		return nil, err
	}
	store := stores.Requests(d)
	replies := &gate.Replies{Store: store, Webhooks: stores.Config(d), Now: d.Now, Log: d.Log}
	return &schedule.Handler{Log: d.Log, Deadlines: &gate.ReviewDeadlines{Store: store, Replies: replies, Deadline: d.Config.ReviewDeadline, Now: d.Now, Log: d.Log}}, nil
}
