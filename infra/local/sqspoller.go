package local

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/dispatcher"
)

// SQSHandler is an SQS function's handler.
type SQSHandler func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// SQSPoller plays Lambda's SQS event source mapping with
// ReportBatchItemFailures: it long-polls up to ten messages, calls the
// handler, deletes the messages that did not fail and leaves the failures to
// come back when their visibility times out (the handler may have shortened
// or lengthened it). A handler error fails the whole batch.
type SQSPoller struct {
	SQS       *sqs.Client
	QueueURL  string
	QueueARN  string
	Handler   SQSHandler
	BatchSize int32         // 1–10; 10 when 0
	Wait      time.Duration // long poll; 1 s when 0
	Log       *slog.Logger
}

// Run polls until ctx ends.
func (p *SQSPoller) Run(ctx context.Context) {
	batch, wait := p.BatchSize, p.Wait
	if batch <= 0 || batch > 10 {
		batch = 10
	}
	if wait <= 0 {
		wait = time.Second
	}
	for ctx.Err() == nil {
		out, err := p.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(p.QueueURL),
			MaxNumberOfMessages:         batch,
			WaitTimeSeconds:             int32(max(wait/time.Second, 1)),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		if err != nil {
			if ctx.Err() == nil {
				p.Log.Warn("sqs poller: receive", "queue", p.QueueURL, "error", err.Error())
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
			}
			continue
		}
		if len(out.Messages) > 0 {
			p.deliver(ctx, out.Messages)
		}
	}
}

func (p *SQSPoller) deliver(ctx context.Context, msgs []types.Message) {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	for i, m := range msgs {
		attrs := make(map[string]string, len(m.Attributes))
		for k, v := range m.Attributes {
			attrs[k] = v
		}
		ev.Records[i] = events.SQSMessage{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			Md5OfBody: aws.ToString(m.MD5OfBody), Attributes: attrs, EventSource: "aws:sqs", EventSourceARN: p.QueueARN,
		}
	}
	resp, err := p.Handler(ctx, ev)
	if err != nil {
		p.Log.Warn("sqs poller: handler failed the batch", "queue", p.QueueURL, "messages", len(msgs), "error", err.Error())
		return
	}
	failed := make(map[string]bool, len(resp.BatchItemFailures))
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	var entries []types.DeleteMessageBatchRequestEntry
	for i, m := range msgs {
		if !failed[aws.ToString(m.MessageId)] {
			entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(entries) == 0 {
		return
	}
	out, err := p.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: entries})
	if err != nil {
		if ctx.Err() == nil {
			p.Log.Warn("sqs poller: delete", "queue", p.QueueURL, "error", err.Error())
		}
		return
	}
	for _, f := range out.Failed {
		p.Log.Warn("sqs poller: delete refused", "queue", p.QueueURL, "code", aws.ToString(f.Code))
	}
}

// startDispatcher builds the dispatcher as DispatcherFunction and polls the
// dispatch queue with it, as its SQS event source does; Stop ends the pollers.
func (s *System) startDispatcher(ctx context.Context, deps func(string) (app.Deps, error), opts Options) error {
	// Lambda's SQS event source runs several batches at once, each in an
	// instance of its own (with its own config cache): one poller each plays
	// that concurrency, with an instance of its own, or instances from one
	// pool with Options.Instances.
	q := s.Stack.Resources["DispatchQueue"]
	d, err := deps("DispatcherFunction")
	if err != nil {
		return err
	}
	build := func(ctx context.Context) (handler[events.SQSEvent, events.SQSEventResponse], error) {
		h, err := dispatcher.New(ctx, d)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	}
	var shared handler[events.SQSEvent, events.SQSEventResponse]
	if opts.Instances != nil {
		if shared, err = instance(s, opts, "DispatcherFunction", build); err != nil {
			return err
		}
	}
	var pollers []*SQSPoller
	for range max(opts.DispatchPollers, 1) {
		h := shared
		if h == nil {
			if h, err = instance(s, opts, "DispatcherFunction", build); err != nil {
				return err
			}
		}
		pollers = append(pollers, &SQSPoller{SQS: sqs.NewFromConfig(s.AWS), QueueURL: q.Ref, QueueARN: q.Attrs["Arn"],
			Handler: timed(opts, "DispatcherFunction", h), Log: opts.Log})
	}
	s.dispatcher = s.runInBackground(func(ctx context.Context) {
		var wg sync.WaitGroup
		for _, p := range pollers {
			wg.Go(func() { p.Run(ctx) })
		}
		wg.Wait()
	})
	return nil
}

// StopDispatcher kills the dispatcher's poller as a Lambda outage would: the
// batch in flight is cancelled and its messages come back when their
// visibility times out. StartDispatcher brings it back. The soak run uses both.
func (s *System) StopDispatcher() { s.dispatcher.stop() }

// StartDispatcher restarts a poller that StopDispatcher ended.
func (s *System) StartDispatcher() { s.dispatcher.start() }

// restartable runs a poller in the background until stopped, and again
// when started again.
type restartable struct {
	run    func(context.Context)
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *restartable) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.run(ctx) }()
	r.cancel, r.done = cancel, done
}

func (r *restartable) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	r.cancel, r.done = nil, nil
}
