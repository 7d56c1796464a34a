package stream

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/metrics"
)

type recordingQueue struct{ batches [][]gate.Delivery }

func (q *recordingQueue) EnqueueDeliveries(_ context.Context, ds []gate.Delivery) error {
	q.batches = append(q.batches, ds)
	return nil
}

type recordingPublisher struct{ msgs []gate.ApprovedMessage }

func (p *recordingPublisher) PublishApproved(_ context.Context, m gate.ApprovedMessage) error {
	p.msgs = append(p.msgs, m)
	return nil
}

// FuzzStreamEvent: any DynamoDB stream event the Lambda runtime can decode
// is handled, by every step the function runs, without a panic or an error;
// deliveries are enqueued only for an entry into awaiting_pre_approval or an
// admission to pending (shadow webhooks only), one per webhook map of the snapshot; an approval is published only for an
// entry into approved, with the image's approved_at; a record failing stops
// the batch at that record.
func FuzzStreamEvent(f *testing.F) {
	img := func(status, extra string) string {
		return `{"id":{"S":"pri_1"},"s":{"S":"` + status + `"},"ac":{"S":"access"}` + extra + `}`
	}
	hooks := `,"wh":{"L":[{"M":{"k":{"S":"a"}}},{"M":{"k":{"S":"b"}}},{"S":"junk"}]}`
	rec := func(seq, old, new string) string {
		return `{"eventID":"e` + seq + `","eventName":"MODIFY","dynamodb":{"SequenceNumber":"` + seq + `","OldImage":` + old + `,"NewImage":` + new + `}}`
	}
	for _, s := range []string{
		`{"Records":[` + rec("1", img("pending", ""), img("awaiting_pre_approval", hooks)) + `]}`,
		`{"Records":[` + rec("1", img("awaiting_pre_approval", hooks), img("awaiting_pre_approval", hooks)) + `]}`,
		`{"Records":[` + rec("1", img("awaiting_pre_approval", ""), img("approved", `,"aa":{"N":"1767323045123456"},"ab":{"S":"admin"}`)) + `]}`,
		`{"Records":[` + rec("1", img("pending", ""), img("approved", `,"aa":{"S":"yesterday"}`)) + `,` + rec("2", img("pending", ""), img("awaiting_pre_approval", hooks)) + `]}`,
		`{"Records":[{"dynamodb":{"NewImage":{"s":{"N":"1"},"wh":{"M":{}}}}}]}`,
		// admitted to pending with shadow webhooks only; later moved to pending from awaiting
		`{"Records":[{"eventName":"INSERT","dynamodb":{"SequenceNumber":"1","NewImage":` + img("pending", hooks) + `}}]}`,
		`{"Records":[` + rec("1", img("identity_unverified", ""), img("pending", hooks)) + `,` + rec("2", img("awaiting_pre_approval", hooks), img("pending", hooks)) + `]}`,
		`{"Records":[{"dynamodb":{"NewImage":{"s":{"S":"awaiting_pre_approval"},"wh":{"L":[{"M":{"k":{"NULL":true}}}]}}}}]}`,
		`{}`, `{"Records":null}`, `{"Records":[{}]}`,
	} {
		f.Add([]byte(s))
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	emitter := metrics.New(io.Discard, "Pregate", time.Now)
	f.Fuzz(func(t *testing.T, raw []byte) {
		var ev events.DynamoDBEvent
		if json.Unmarshal(raw, &ev) != nil {
			return // the Lambda runtime refuses it before our handler runs
		}
		q, pub := &recordingQueue{}, &recordingPublisher{}
		h := &Handler{Log: log, Steps: []RecordHandler{&Deliveries{Queue: q, Log: log}, &Approved{Queue: pub, Store: unmarked{}, Log: log}, &Decisions{Metrics: emitter}}}
		resp, err := h.Handle(context.Background(), ev)
		if err != nil {
			t.Fatalf("handler error %v", err)
		}
		var wantBatches [][]gate.Delivery
		var wantMsgs []gate.ApprovedMessage
		var failed bool // at the record wantFailure (a sequence number, possibly "")
		var wantFailure string
		for _, r := range ev.Records {
			c := r.Change
			from, to := str(c.OldImage, dynamo.AttrStatus), str(c.NewImage, dynamo.AttrStatus)
			if to == "awaiting_pre_approval" && from != to || to == "pending" && (from == "" || from == "identity_unverified") {
				var ds []gate.Delivery
				id := str(c.NewImage, dynamo.AttrID)
				if hs, ok := c.NewImage[dynamo.AttrWebhooks]; ok && hs.DataType() == events.DataTypeList {
					for _, hook := range hs.List() {
						if hook.DataType() == events.DataTypeMap {
							k := str(hook.Map(), dynamo.AttrHookKey)
							ds = append(ds, gate.Delivery{ID: gate.DeliveryID(id, k), PrivacyRequestID: id, WebhookKey: k})
						}
					}
				}
				if len(ds) > 0 {
					wantBatches = append(wantBatches, ds)
				}
			}
			if str(c.NewImage, dynamo.AttrStatus) == "approved" && str(c.OldImage, dynamo.AttrStatus) != "approved" {
				n, ok := c.NewImage[dynamo.AttrApprovedAt]
				if !ok || n.DataType() != events.DataTypeNumber {
					failed, wantFailure = true, c.SequenceNumber
					break
				}
				us, err := strconv.ParseInt(n.Number(), 10, 64)
				if err != nil {
					failed, wantFailure = true, c.SequenceNumber
					break
				}
				wantMsgs = append(wantMsgs, gate.ApprovedMessage{PrivacyRequestID: str(c.NewImage, dynamo.AttrID), PolicyAction: str(c.NewImage, dynamo.AttrPolicyAct),
					ApprovedAt: time.UnixMicro(us).UTC(), ApprovedBy: str(c.NewImage, dynamo.AttrApprovedBy)})
			}
		}
		if !slices.EqualFunc(q.batches, wantBatches, slices.Equal[[]gate.Delivery]) {
			t.Fatalf("enqueued %+v, want %+v", q.batches, wantBatches)
		}
		if len(pub.msgs) != len(wantMsgs) {
			t.Fatalf("published %+v, want %+v", pub.msgs, wantMsgs)
		}
		for i := range wantMsgs {
			if got, want := pub.msgs[i], wantMsgs[i]; got.PrivacyRequestID != want.PrivacyRequestID || got.PolicyAction != want.PolicyAction ||
				!got.ApprovedAt.Equal(want.ApprovedAt) || got.ApprovedBy != want.ApprovedBy {
				t.Fatalf("published %+v, want %+v", got, want)
			}
		}
		switch {
		case !failed && len(resp.BatchItemFailures) != 0,
			failed && (len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != wantFailure):
			t.Fatalf("batch item failures %+v, want the record %q", resp.BatchItemFailures, wantFailure)
		}
	})
}

// unmarked is a store in which every request is approved and not yet
// published, so the handler publishes what the records say.
type unmarked struct{}

func (unmarked) ClaimPublish(context.Context, string, gate.PublishClaim, time.Time) error { return nil }

func (unmarked) MarkPublished(context.Context, string, time.Time) error { return nil }
