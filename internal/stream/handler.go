package stream

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
)

// RecordHandler reacts to one stream record.
type RecordHandler interface {
	Handle(ctx context.Context, rec events.DynamoDBEventRecord) error
}

// Handler is the stream function: every record goes through each step in
// order. On the first failure it reports that record and stops, since Lambda
// (ReportBatchItemFailures) retries from the first failed record onwards;
// the steps are idempotent, so the retry repeats no effect that matters.
type Handler struct {
	Steps []RecordHandler
	Log   *slog.Logger
}

// Handle is the Lambda handler.
func (h *Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	for _, rec := range ev.Records {
		for _, step := range h.Steps {
			if err := step.Handle(ctx, rec); err != nil {
				h.Log.ErrorContext(ctx, "stream record failed", "event_id", rec.EventID, "sequence", rec.Change.SequenceNumber, "error", err.Error())
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
				return resp, nil
			}
		}
	}
	return resp, nil
}
