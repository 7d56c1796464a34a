// Package schedule adapts the reconciler (internal/gate) to a scheduled
// (EventBridge) Lambda invocation.
package schedule

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/gate"
)

// Handler runs the reconciler once per scheduled event, or the daily
// digest for the event of its own schedule.
type Handler struct {
	Reconciler *gate.Reconciler
	Digest     *gate.Digest
	Log        *slog.Logger
}

// Event is a scheduled invocation: EventBridge's event, or the digest
// schedule's fixed input {"digest": true}.
type Event struct {
	events.EventBridgeEvent
	Digest bool `json:"digest"`
}

// Handle reconciles once. A request that fails is logged and stays due; only
// an unreadable due index fails the invocation. Every write is conditional,
// so the next run, which starts from the oldest due again, repeats nothing.
func (h *Handler) Handle(ctx context.Context, ev Event) error {
	if ev.Digest {
		n, err := h.Digest.Run(ctx)
		if err != nil {
			h.Log.ErrorContext(ctx, "daily digest failed", "error", err.Error())
			return err
		}
		h.Log.InfoContext(ctx, "daily digest", "due", n)
		return nil
	}
	res, err := h.Reconciler.Run(ctx)
	attrs := []any{"approved", res.Approved, "moved", res.Moved, "published", res.Published, "redelivered", res.Redelivered,
		"postponed", res.Postponed, "failed", res.Failed, "stopped_before_deadline", res.Stopped}
	if err != nil {
		h.Log.ErrorContext(ctx, "reconciler run failed", append(attrs, "error", err.Error())...)
		return err
	}
	h.Log.InfoContext(ctx, "reconciler run", attrs...)
	return nil
}
