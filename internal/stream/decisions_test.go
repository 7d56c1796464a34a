package stream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/metrics"
	"github.com/pregate/pregate/internal/stream"
)

// Each status change yields the decision it is, or none.
func TestDecisionsCountsEachTransition(t *testing.T) {
	img := func(status, approvedBy, kind string) map[string]events.DynamoDBAttributeValue {
		if status == "" {
			return nil
		}
		m := map[string]events.DynamoDBAttributeValue{dynamo.AttrID: events.NewStringAttribute("pri_1"), dynamo.AttrStatus: events.NewStringAttribute(status)}
		if approvedBy != "" {
			m[dynamo.AttrApprovedBy] = events.NewStringAttribute(approvedBy)
		}
		entry := func(kind string) events.DynamoDBAttributeValue {
			return events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"t": events.NewNumberAttribute("1764745200000000"), dynamo.AttrEntryKind: events.NewNumberAttribute(kind)})
		}
		if kind != "" {
			m[dynamo.AttrActivity] = events.NewListAttribute([]events.DynamoDBAttributeValue{entry(fmt.Sprint(int(gate.KindTriggered))), entry(kind)})
		}
		return m
	}
	cases := []struct {
		from, to, by string
		want         string
		kind         string // the newest timeline entry's kind
	}{
		{"pending", "approved", "admin-1", stream.DecisionApproved, ""},
		{"pre_approval_not_eligible", "approved", "admin-1", stream.DecisionApproved, ""},
		{"awaiting_pre_approval", "approved", "", stream.DecisionAutoApproved, ""},
		{"", "approved", "", stream.DecisionAutoApproved, ""}, // submitted with manual approval off
		{"awaiting_pre_approval", "pre_approval_not_eligible", "", stream.DecisionNotEligible, ""},
		// A failure's write ends with its own status_changed entry: the kind, not the action, tells it from the deadline's.
		{"awaiting_pre_approval", "pending", "", stream.DecisionPendingAfterFailure, fmt.Sprint(int(gate.KindFailedToPending))},
		{"awaiting_pre_approval", "pending", "", stream.DecisionPendingAfterDeadline, fmt.Sprint(int(gate.KindDeadlinePassed))},
		{"awaiting_pre_approval", "pending", "", stream.DecisionPendingAfterFailure, "999"}, // no kind of ours
		{"pending", "denied", "", stream.DecisionDenied, ""},
		{"", "pending", "", "", ""},
		{"", "awaiting_pre_approval", "", "", ""},
		{"identity_unverified", "pending", "", "", ""},
		{"awaiting_pre_approval", "awaiting_pre_approval", "", "", ""}, // a reply recorded
		{"approved", "approved", "admin-1", "", ""},
		{"approved", "in_processing", "admin-1", "", ""},
		{"approved", "", "", "", ""}, // removed
	}
	for _, c := range cases {
		t.Run(c.from+"->"+c.to+"/"+c.kind, func(t *testing.T) {
			var buf bytes.Buffer
			h := &stream.Decisions{Metrics: metrics.New(&buf, "Pregate", time.Now)}
			rec := events.DynamoDBEventRecord{Change: events.DynamoDBStreamRecord{OldImage: img(c.from, c.by, ""), NewImage: img(c.to, c.by, c.kind)}}
			if err := h.Handle(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			if c.want == "" {
				if buf.Len() != 0 {
					t.Fatalf("emitted %s for a change that is not a decision", buf.String())
				}
				return
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(strings.TrimSpace(buf.String())), &line); err != nil {
				t.Fatalf("%q: %v", buf.String(), err)
			}
			if line["decision"] != c.want || line["Decisions"] != 1.0 || line["privacy_request_id"] != "pri_1" {
				t.Fatalf("line %v, want decision %s", line, c.want)
			}
		})
	}
}
