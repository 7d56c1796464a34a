// Package schedule adapts the review-deadline sweep to a scheduled
// (EventBridge) Lambda invocation.
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
	moved, err := h.Deadlines.Sweep(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "review deadline sweep failed", "moved", moved, "error", err.Error())
		return err
	}
	h.Log.InfoContext(ctx, "review deadline sweep", "moved", moved)
	return nil
}
