package local

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/internal/awstest"
)

func TestSQSPollerDeletesSuccessesAndLeavesFailures(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := sqs.NewFromConfig(cfg)
	url := s.Resources["DispatchQueue"].Ref
	for _, body := range []string{"a", "b", "c"} {
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string][]string{} // body -> receive counts
	handler := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		var resp events.SQSEventResponse
		for _, m := range ev.Records {
			seen[m.Body] = append(seen[m.Body], m.Attributes["ApproximateReceiveCount"])
			if m.Body == "b" && len(seen["b"]) == 1 {
				// Fail once, to come back in a second, as the dispatcher does.
				if _, err := client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
					QueueUrl: aws.String(url), ReceiptHandle: aws.String(m.ReceiptHandle), VisibilityTimeout: 1}); err != nil {
					t.Error(err)
				}
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			}
		}
		return resp, nil
	}
	p := &SQSPoller{SQS: client, QueueURL: url, Handler: handler, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	waitFor(t, 15*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen["a"]) == 1 && len(seen["c"]) == 1 && len(seen["b"]) == 2
	})
	cancel()
	<-done
	mu.Lock()
	if got := seen["b"]; got[0] != "1" || got[1] != "2" {
		t.Errorf("b receive counts %v, want [1 2]", got)
	}
	mu.Unlock()
	// Everything handled was deleted: nothing comes back.
	time.Sleep(1500 * time.Millisecond)
	out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 0 {
		t.Fatalf("%d messages left in the queue", len(out.Messages))
	}
}
