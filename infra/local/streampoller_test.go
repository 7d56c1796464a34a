package local

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/awsenv"
	"github.com/pregate/pregate/internal/awstest"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustPattern(t *testing.T, raw string) stack.FilterPattern {
	t.Helper()
	p, err := stack.ParseFilterPattern(raw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStreamPollerRetriesFromFirstFailureThenGivesUp(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	table := s.Resources["RequestsTable"].Ref

	var mu sync.Mutex
	seen := map[string]int{} // id -> invocations that included it
	handler := func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		var resp events.DynamoDBEventResponse
		for _, r := range ev.Records {
			id := r.Change.Keys["id"].String()
			seen[id]++
			// "b" fails on its first delivery; "poison" always fails.
			if (id == "b" && seen[id] == 1) || id == "poison" {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
			}
		}
		return resp, nil
	}
	p := &StreamPoller{
		Streams: dynamodbstreams.NewFromConfig(cfg), StreamARN: s.Resources["RequestsTable"].Attrs["StreamArn"], Handler: handler,
		BatchSize: 100, MaxRetries: 2, FailureQueue: s.Resources["StreamFailureQueue"].Ref, SQS: sqs.NewFromConfig(cfg),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Idle: 20 * time.Millisecond,
		Filters: []stack.FilterPattern{mustPattern(t, `{"eventName": ["INSERT"]}`)},
	}
	db := dynamodb.NewFromConfig(cfg)
	for _, id := range []string{"a", "b", "c"} {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: id}}}); err != nil {
			t.Fatal(err)
		}
	}
	// A MODIFY the filter drops: the handler must never see it.
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "a"}, "x": &ddbtypes.AttributeValueMemberS{Value: "changed"}}}); err != nil {
		t.Fatal(err)
	}
	go p.Run(ctx)
	waitFor(t, 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return seen["c"] >= 2 })
	mu.Lock()
	if seen["a"] != 1 || seen["b"] != 2 || seen["c"] != 2 {
		t.Errorf("deliveries %v: want a once, b and c twice (re-invoked from the first failure)", seen)
	}
	mu.Unlock()

	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "poison"}}}); err != nil {
		t.Fatal(err)
	}
	q := sqs.NewFromConfig(cfg)
	var failures int
	waitFor(t, 10*time.Second, func() bool {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(p.FailureQueue), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		failures += len(out.Messages)
		return failures > 0
	})
	mu.Lock()
	defer mu.Unlock()
	if seen["poison"] != 3 {
		t.Errorf("poison record invoked %d times, want 1 + MaxRetries(2)", seen["poison"])
	}
}

// Stopping the poller cancels its context mid-call: that is a normal stop,
// not a failure worth a WARN in `make run`'s output.
func TestStreamPollerStopsQuietlyMidCall(t *testing.T) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	emulator := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select { // hangs until the poller gives up the call, or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer emulator.Close()
	defer close(release)
	var logs bytes.Buffer
	p := &StreamPoller{
		Streams: dynamodbstreams.NewFromConfig(awsenv.Emulator(emulator.URL)), StreamARN: "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
		Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Idle: time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the poller never called the emulator")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the poller did not stop")
	}
	if logs.Len() > 0 {
		t.Fatalf("the poller logged on a normal stop:\n%s", logs.String())
	}
}

// With a ParallelizationFactor the records of one page go out in several
// batches at once, split by item key: every record is handled once, one
// item's records in their order, and the batches overlap in time.
func TestStreamPollerParallelBatchesKeepEachItemsOrder(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]string{} // id -> sequence numbers, in handling order
	inFlight, most := 0, 0
	handler := func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		inFlight--
		for _, r := range ev.Records {
			id := r.Change.Keys["id"].String()
			got[id] = append(got[id], r.Change.SequenceNumber)
		}
		return events.DynamoDBEventResponse{}, nil
	}
	var records []events.DynamoDBEventRecord
	for i := range 60 {
		id := fmt.Sprintf("pri_%d", i%12)
		records = append(records, events.DynamoDBEventRecord{Change: events.DynamoDBStreamRecord{
			Keys: map[string]events.DynamoDBAttributeValue{"id": events.NewStringAttribute(id)}, SequenceNumber: fmt.Sprintf("%03d", i)}})
	}
	p := &StreamPoller{Handler: handler, Parallel: 4, MaxRetries: 1, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	p.deliverAll(context.Background(), records)
	if len(got) != 12 {
		t.Fatalf("%d items handled, want 12", len(got))
	}
	for id, seqs := range got {
		if len(seqs) != 5 || !slices.IsSorted(seqs) {
			t.Fatalf("%s: records %v, want its 5 in order", id, seqs)
		}
	}
	if most < 2 {
		t.Fatalf("at most %d batches at once, want them to overlap", most)
	}
}
