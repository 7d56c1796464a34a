package dynamo

import (
	"context"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

var _ gate.DeliveryStore = (*RequestStore)(nil)

// RecordDeliveries is one conditional UpdateItem for all the marks of one
// request's batch (docs/dispatch.md):
//
//	SET updated_at, activity = list_append(...),
//	    webhooks[i].delivery = :d<n>, webhooks[i].attempts = :n<n> ...
//	    [, #status = :pending]
//	CONDITION attribute_exists(id) AND <run is w.Run>
//	    AND webhooks[i].#key = :k<n> AND attribute_not_exists(webhooks[i].delivery) ...   (each mark)
//	    AND attribute_not_exists(webhooks[i].reply) ...                                    (each failed mark)
//	    [AND #status = :awaiting]                                                          (ToPending)
//
// A called mark never looks at the status nor at replies.
func (s *RequestStore) RecordDeliveries(ctx context.Context, w gate.DeliveryWrite) error {
	u := webhookUpdate{id: w.ID, at: w.At, activity: w.Activity, what: "record deliveries", values: map[string]types.AttributeValue{}}
	u.cond = append(u.cond, runCondition(w.Run, u.values))
	for n, m := range w.Marks {
		p := webhookPath(m.Index)
		d, a, k := markValue("d", n), markValue("n", n), markValue("k", n)
		u.set = append(u.set, p+".#delivery = "+d, p+".#attempts = "+a)
		u.cond = append(u.cond, p+".#key = "+k, "attribute_not_exists("+p+".#delivery)")
		if m.State == gate.WebhookFailed {
			u.cond = append(u.cond, "attribute_not_exists("+p+".#reply)")
		}
		u.values[d], u.values[k] = stateCode(m.State), stringValue(m.Key)
		u.values[a] = number(int64(m.Attempts))
	}
	if w.ToPending {
		u.set = append(u.set, "#status = :pending")
		u.cond = append(u.cond, "#status = :awaiting")
		u.values[":pending"] = stringValue(string(gate.StatusPending))
		u.values[":awaiting"] = stringValue(string(gate.StatusAwaitingPreApproval))
		s.moveIndexes(&u, gate.StatusPending, nil)
	}
	_, err := s.updateWebhooks(ctx, u)
	return err
}

// markValue names the :<prefix><n> placeholder of mark n.
func markValue(prefix string, n int) string { return ":" + prefix + strconv.Itoa(n) }
