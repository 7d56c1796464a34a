package stream

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

type recordingNotifier []gate.Notification

func (r *recordingNotifier) Notify(_ context.Context, n gate.Notification) error {
	*r = append(*r, n)
	return nil
}

func TestNotificationsForRequestsThatNeedAnAdmin(t *testing.T) {
	img := func(id, st string) map[string]events.DynamoDBAttributeValue {
		if st == "" {
			return nil
		}
		return map[string]events.DynamoDBAttributeValue{dynamo.AttrID: events.NewStringAttribute(id), dynamo.AttrStatus: events.NewStringAttribute(st),
			"email": events.NewStringAttribute("jane@example.com")}
	}
	for _, c := range []struct {
		from, to string
		want     bool
	}{
		{"", "pending", true}, // submitted, no webhook: straight to pending
		{"identity_unverified", "pending", true},
		{"awaiting_pre_approval", "pending", true},
		{"awaiting_pre_approval", "pre_approval_not_eligible", true},
		{"pending", "pre_approval_not_eligible", true},
		{"pending", "pending", false}, // a reply recorded, no move
		{"", "awaiting_pre_approval", false},
		{"pending", "approved", false},
		{"pending", "denied", false},
	} {
		var sent recordingNotifier
		n := &Notifications{Notifier: &sent, Links: gate.ConsoleLinks{PublicBaseURL: "https://gate.example.com/api/v1"}, Now: time.Now}
		rec := events.DynamoDBEventRecord{Change: events.DynamoDBStreamRecord{OldImage: img("pri_1", c.from), NewImage: img("pri_1", c.to)}}
		if err := n.Handle(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		if got := len(sent) == 1; got != c.want {
			t.Errorf("%q -> %q: notified %v, want %v", c.from, c.to, got, c.want)
			continue
		}
		if c.want {
			m := sent[0]
			if m.PrivacyRequestID != "pri_1" || m.Kind != gate.NotifyNeedsReview || !strings.Contains(m.Message, "https://gate.example.com/admin/#/requests/pri_1") ||
				strings.Contains(m.Message+m.Subject, "jane") {
				t.Errorf("%q -> %q: %+v", c.from, c.to, m)
			}
		}
	}
}
