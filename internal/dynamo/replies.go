package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

var _ gate.ReplyStore = (*RequestStore)(nil)

// RecordReply is one conditional UpdateItem: the webhook's state, the status
// (changed or not) and the timeline entries, only while the item still has
// the version the decision was made on. Recording the last eligible reply and
// approving is therefore one write; a lost race costs one re-read and retry.
// The version alone pins the whole item; the status and key checks are belt
// and braces against a writer that forgot to bump it.
func (s *RequestStore) RecordReply(ctx context.Context, w gate.ReplyWrite) error {
	set := []string{"{w}.#state = :state", "{w}.replied_at = :at"}
	if w.To == gate.StatusApproved {
		set = append(set, "approved_at = :at")
	}
	return s.updateWebhook(ctx, webhookUpdate{
		id: w.ID, key: w.WebhookKey, version: w.Version, index: w.WebhookIndex, to: w.To, at: w.At, activity: w.Activity,
		set: set,
		values: map[string]types.AttributeValue{
			":state":    &types.AttributeValueMemberS{Value: string(w.State)},
			":pending":  &types.AttributeValueMemberS{Value: string(gate.StatusPending)},
			":awaiting": &types.AttributeValueMemberS{Value: string(gate.StatusAwaitingPreApproval)},
		},
		cond: "#status IN (:pending, :awaiting)",
		what: "record reply",
	})
}
