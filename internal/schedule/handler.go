// Package schedule adapts the sweep of waiting requests (complete ones
// approved, overdue ones moved to pending) to a scheduled (EventBridge)
// Lambda invocation.
package schedule

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/gate"
)

// Handler runs one sweep per scheduled event.
type Handler struct {
	Deadlines *gate.ReviewDeadlines
	Log       *slog.Logger
}

// Handle sweeps once. An error fails the invocation; the next scheduled run
// sweeps again, and moves are conditional, so nothing is moved twice.
func (h *Handler) Handle(ctx context.Context, _ events.EventBridgeEvent) error {
	res, err := h.Deadlines.Sweep(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "waiting requests sweep failed", "approved", res.Approved, "moved", res.Moved, "error", err.Error())
		return err
	}
	h.Log.InfoContext(ctx, "waiting requests sweep", "approved", res.Approved, "moved", res.Moved)
	return nil
}
