package dynamo_test

import (
	"context"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

// At 1,000 calls a second to one webhook, each answered, no partition key
// value of the delivery log takes more than 1,000 write units a second. A
// call writes its attempt and the reply its own item (2 units on the
// attempt's key), and each updates its hour's counts; a counts item holding every latency bucket there is costs
// what its size says (docs/internals/storage.md, "Delivery log").
func TestDeliveryLogWriteUnitsPerKeyAt1000CallsASecond(t *testing.T) {
	countsItem := 200 // key, counters, last failure, expiry
	for ms := int64(0); ms <= 100_000; ms++ {
		if gate.LatencyBucket(ms) == ms {
			countsItem += len("l"+strconv.FormatInt(ms, 10)) + 1 + (len(strconv.FormatInt(ms, 10))+1)/2 + 1
		}
	}
	countsUnits := int(math.Ceil(float64(countsItem) / 1024))
	units := map[string]int{}
	for i := range 1000 {
		id := gate.NewRequestID()
		attempts := dynamo.AttemptPartition("fraud", id, i%2)
		units[attempts] += 2
		units["counts of "+attempts] += 2 * countsUnits
	}
	for key, u := range units {
		if u > 1000 {
			t.Fatalf("%s takes %d write units a second (counts item %d bytes)", key, u, countsItem)
		}
	}
}

func TestDeliveryLog(t *testing.T) {
	s, cfg := awstest.Stack(t)
	db := dynamodb.NewFromConfig(cfg)
	table := s.Resources["DeliveryLogTable"].Ref
	l := dynamo.NewDeliveryLog(db, table)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Hour).Add(30 * time.Minute)
	ids := make([]string, 30)
	for i := range ids {
		ids[i] = gate.NewRequestID()
	}

	// 30 deliveries: each fails once, then is called; the even ones' replies
	// come after the call is logged, the odd ones' before (a validator that
	// answers within the call).
	for i, id := range ids {
		at := t0.Add(time.Duration(i) * time.Second)
		if err := l.LogAttempt(ctx, "fraud", gate.LoggedAttempt{PrivacyRequestID: id, Attempt: 1, At: at,
			Outcome: gate.WebhookFailed, HTTPStatus: 503, Latency: 40 * time.Millisecond, Error: "HTTP 503"}); err != nil {
			t.Fatal(err)
		}
		answer := gate.WebhookEligible
		if i%3 == 0 {
			answer = gate.WebhookNotEligible
		}
		call := gate.LoggedAttempt{PrivacyRequestID: id, Attempt: 2, At: at.Add(time.Millisecond), Outcome: gate.WebhookCalled,
			HTTPStatus: 200, Latency: time.Duration(100+i) * time.Millisecond}
		if i%2 == 1 {
			if err := l.LogReply(ctx, "fraud", id, 0, answer, at.Add(2*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.LogAttempt(ctx, "fraud", call); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := l.LogReply(ctx, "fraud", id, 0, answer, at.Add(2*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Paged through, newest first: every attempt once, the reply as the
	// outcome of the call.
	var got []gate.LoggedAttempt
	after := ""
	for pages := 0; ; pages++ {
		items, next, err := l.Attempts(ctx, "fraud", 7, after)
		if err != nil || pages > 20 {
			t.Fatal(pages, err)
		}
		got = append(got, items...)
		if next == "" {
			break
		}
		after = next
	}
	if len(got) != 60 {
		t.Fatalf("%d attempts listed, want 60", len(got))
	}
	for k, a := range got {
		i := len(ids) - 1 - k/2
		if a.PrivacyRequestID != ids[i] {
			t.Fatalf("attempt %d is of request %d, want %d (newest first)", k, slices.Index(ids, a.PrivacyRequestID), i)
		}
		want := gate.WebhookFailed
		if k%2 == 0 {
			want = gate.WebhookEligible
			if i%3 == 0 {
				want = gate.WebhookNotEligible
			}
		}
		if a.Outcome != want {
			t.Fatalf("attempt %d of request %d: outcome %s, want %s", a.Attempt, i, a.Outcome, want)
		}
	}
	if a := got[1]; a.HTTPStatus != 503 || a.Latency != 40*time.Millisecond || a.Error != "HTTP 503" || a.Attempt != 1 {
		t.Fatalf("a failed attempt reads back as %+v", a)
	}

	c, err := l.Counts(ctx, "fraud", t0.Add(-gate.HealthWindow))
	if err != nil {
		t.Fatal(err)
	}
	if c.Calls != 60 || c.Failures != 30 || c.Eligible+c.NotEligible != 30 || c.NotEligible != 10 {
		t.Fatalf("counts: %+v", c)
	}
	if c.Latencies[40] != 30 || c.Latencies[110] != 10 || c.LastFailure != "HTTP 503" || !c.LastFailureAt.Equal(t0.Add(29*time.Second)) {
		t.Fatalf("latencies or last failure: %v, %v %q", c.Latencies, c.LastFailureAt, c.LastFailure)
	}
	if c, err := l.Counts(ctx, "fraud", t0.Add(time.Hour)); err != nil || c.Calls != 0 {
		t.Fatalf("counts of a later window: %+v, %v", c, err)
	}

	// Every attempt expires 30 days after its call.
	out, err := db.Query(ctx, &dynamodb.QueryInput{TableName: &table, KeyConditionExpression: aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: dynamo.AttemptPartition("fraud", ids[0], 0)}}})
	if err != nil || len(out.Items) == 0 {
		t.Fatal(len(out.Items), err)
	}
	for _, it := range out.Items {
		sk := it["sk"].(*types.AttributeValueMemberS).Value
		exp, _ := strconv.ParseInt(it["expires_at"].(*types.AttributeValueMemberN).Value, 10, 64)
		if sk[:2] != "C#" && time.Unix(exp, 0).Sub(t0) > gate.DeliveryLogRetention+time.Minute || time.Unix(exp, 0).Sub(t0) < gate.DeliveryLogRetention-time.Minute {
			t.Fatalf("%s expires at %v, want 30 days after %v", sk, time.Unix(exp, 0).UTC(), t0)
		}
	}
}
