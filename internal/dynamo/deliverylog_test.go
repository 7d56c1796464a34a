package dynamo_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

// At 1,000 calls a second to one webhook, each answered, no partition key
// value of the delivery log takes more than 1,000 write units a second. A
// call writes its attempt and the reply its own item (2 units on the
// attempt's key). A function instance writes a webhook's counts once a
// minute at most: even the account's 1,000 concurrent instances (Lambda's
// default limit) all on one counts shard, each item holding every latency
// bucket there is, cost what its size says 1,000 times a minute
// (docs/internals/storage.md, "Delivery log").
func TestDeliveryLogWriteUnitsPerKeyAt1000CallsASecond(t *testing.T) {
	countsItem := 200 // key, counters, last failure, expiry
	for ms := int64(0); ms <= 100_000; ms++ {
		if gate.LatencyBucket(ms) == ms {
			countsItem += len("l"+strconv.FormatInt(ms, 10)) + 1 + (len(strconv.FormatInt(ms, 10))+1)/2 + 1
		}
	}
	countsUnits := int(math.Ceil(float64(countsItem) / 1024))
	units := map[string]int{"counts": 1000 * countsUnits / 60}
	for i := range 1000 {
		units[dynamo.AttemptPartition("fraud", gate.NewRequestID(), i%2)] += 2
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
	// A minute passes between calls: every call's counts are written at once
	// (TestDeliveryLogCountsAMinuteOfCallsInOneWrite tests them held back).
	clock := t0
	dynamo.SetDeliveryLogClock(l, func() time.Time { clock = clock.Add(time.Minute); return clock }, 0)
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

// failUpdates makes a client's UpdateItem calls fail while on is set.
type failUpdates struct{ on atomic.Bool }

func (f *failUpdates) option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("failUpdates",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if f.on.Load() && awsmiddleware.GetOperationName(ctx) == "UpdateItem" {
					return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("throttled")
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
}

// A function instance writes a webhook's counts of an hour once a minute at
// most, whatever its calls: a minute of 40 calls and their replies costs
// their 80 items and one counts write. Counts whose write failed are
// written at the next try; an instance's failure older than the one stored
// never replaces it.
func TestDeliveryLogCountsAMinuteOfCallsInOneWrite(t *testing.T) {
	s, cfg := awstest.Stack(t)
	var writes writeCounter
	var fail failUpdates
	db := dynamodb.NewFromConfig(cfg, writes.option, fail.option)
	l := dynamo.NewDeliveryLog(db, s.Resources["DeliveryLogTable"].Ref)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Hour).Add(30 * time.Minute)
	clock := t0
	dynamo.SetDeliveryLogClock(l, func() time.Time { return clock }, 3)
	health := func() gate.HealthCounts {
		t.Helper()
		c, err := l.Counts(ctx, "fraud", t0.Add(-gate.HealthWindow))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	called := func(id string) gate.LoggedAttempt {
		return gate.LoggedAttempt{PrivacyRequestID: id, Attempt: 1, At: clock, Outcome: gate.WebhookCalled, HTTPStatus: 200, Latency: 40 * time.Millisecond, Final: true}
	}

	for i := range 40 {
		clock = t0.Add(time.Duration(i) * time.Second)
		id := gate.NewRequestID()
		if err := l.LogAttempt(ctx, "fraud", called(id)); err != nil {
			t.Fatal(err)
		}
		if err := l.LogReply(ctx, "fraud", id, 0, gate.WebhookEligible, clock); err != nil {
			t.Fatal(err)
		}
	}
	if n := writes.calls.Load(); n != 80+1 {
		t.Fatalf("%d writes for 40 calls and their replies within a minute, want 81", n)
	}
	if c := health(); c.Calls != 1 || c.Eligible != 0 {
		t.Fatalf("counts before a minute passed: %+v, want the first call only", c)
	}

	// A minute after the first write, that write fails: nothing is lost.
	clock = t0.Add(time.Minute)
	fail.on.Store(true)
	failed := gate.LoggedAttempt{PrivacyRequestID: gate.NewRequestID(), Attempt: 1, At: clock, Outcome: gate.WebhookFailed, HTTPStatus: 503,
		Latency: 40 * time.Millisecond, Error: "HTTP 503"}
	if err := l.LogAttempt(ctx, "fraud", failed); err == nil {
		t.Fatal("a failed counts write is not reported")
	}
	fail.on.Store(false)
	clock = t0.Add(time.Minute + 30*time.Second)
	if err := l.LogAttempt(ctx, "fraud", called(gate.NewRequestID())); err != nil {
		t.Fatal(err)
	}
	if c := health(); c.Calls != 1 {
		t.Fatalf("counts written again within a minute of the failed try: %+v", c)
	}
	clock = t0.Add(2 * time.Minute)
	if err := l.LogReply(ctx, "fraud", failed.PrivacyRequestID, 0, gate.WebhookNotEligible, clock); err != nil {
		t.Fatal(err)
	}
	c := health()
	if c.Calls != 42 || c.Failures != 1 || c.Eligible != 40 || c.NotEligible != 1 || c.Latencies[40] != 42 || c.LastFailure != "HTTP 503" {
		t.Fatalf("counts after the next try: %+v", c)
	}

	// Another instance whose buffered failure is older writes to the same
	// item: its counts are added, the stored last failure stays.
	other := dynamo.NewDeliveryLog(db, s.Resources["DeliveryLogTable"].Ref)
	dynamo.SetDeliveryLogClock(other, func() time.Time { return clock }, 3)
	older := failed
	older.At, older.Error = t0.Add(50*time.Second), "HTTP 500"
	if err := other.LogAttempt(ctx, "fraud", older); err != nil {
		t.Fatal(err)
	}
	if c := health(); c.Calls != 43 || c.Failures != 2 || c.LastFailure != "HTTP 503" || !c.LastFailureAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after an older failure of another instance: %+v", c)
	}
}
