package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

var _ gate.ReplyStore = (*RequestStore)(nil)

// RecordReply is one conditional UpdateItem (docs/storage.md):
//
//	SET updated_at, activity = list_append(...)
//	    [, webhooks[i].reply = :answer, webhooks[i].replied_at = :at]
//	    [, #status = :to [, approved_at = :at]]
//	CONDITION attribute_exists(id) [AND #status IN (:pending, :awaiting)] AND <run is w.Run>   (not for a shadow reply)
//	    [AND webhooks[i].#key = :key AND attribute_not_exists(webhooks[i].reply)]
//	    [AND webhooks[j].reply = :eligible ...]
//
// It never looks at the delivery fields nor at other webhooks' replies except
// those an approval rests on, so a delivery being recorded or another reply
// landing never refuses it. It returns the item after the write.
func (s *RequestStore) RecordReply(ctx context.Context, w gate.ReplyWrite) (*gate.PrivacyRequest, error) {
	u := webhookUpdate{id: w.ID, at: w.At, activity: w.Activity, what: "record reply", returnNew: true,
		values: map[string]types.AttributeValue{}}
	if !w.Shadow { // a shadow webhook's reply is recorded whatever the status
		u.cond = append(u.cond, "#status IN (:pending, :awaiting)")
		u.values[":pending"] = stringValue(string(gate.StatusPending))
		u.values[":awaiting"] = stringValue(string(gate.StatusAwaitingPreApproval))
	}
	u.cond = append(u.cond, runCondition(w.Run, u.values))
	if r := w.Reply; r != nil {
		p := webhookPath(r.Index)
		u.set = append(u.set, p+".#reply = :answer", p+".#replied_at = :at")
		u.cond = append(u.cond, p+".#key = :key", "attribute_not_exists("+p+".#reply)")
		u.values[":answer"], u.values[":key"] = stateCode(r.Answer), stringValue(r.Key)
	}
	if w.To != "" {
		u.set = append(u.set, "#status = :to")
		u.values[":to"] = stringValue(string(w.To))
		s.moveIndexes(&u, w.To, w.DueRead)
	}
	if exp, ok := s.expiry(w.To, w.At); ok {
		u.set = append(u.set, "#expires = :expires")
		u.values[":expires"] = exp
	}
	if w.To == gate.StatusApproved {
		u.set = append(u.set, "#approved_at = :at")
		for _, j := range w.Eligible {
			u.cond = append(u.cond, webhookPath(j)+".#reply = :eligible")
			u.values[":eligible"] = stateCode(gate.WebhookEligible)
		}
	}
	av, err := s.updateWebhooks(ctx, u)
	if err != nil {
		return nil, err
	}
	return unmarshalRequest(av)
}
