package main

import (
	"context"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/pregate/pregate/infra/local"
)

// pollerOps are the calls only the local pollers make, standing in for
// Lambda's event source mappings: they are not our code's calls. The stream
// reads are free to a Lambda trigger; the SQS receives that return messages
// and the deletes are billed, so they are counted apart (eventSourceSQS):
// idle long polls are a fixed monthly cost, not a request's.
var pollerOps = map[string]bool{
	"DynamoDB Streams/DescribeStream":   true,
	"DynamoDB Streams/GetShardIterator": true,
	"DynamoDB Streams/GetRecords":       true,
	"SQS/ReceiveMessage":                true,
	"SQS/DeleteMessageBatch":            true,
}

// ddbWrites and ddbReads classify the DynamoDB operations we use.
var (
	ddbWrites = map[string]bool{"PutItem": true, "UpdateItem": true, "DeleteItem": true, "TransactWriteItems": true, "BatchWriteItem": true}
	ddbReads  = map[string]bool{"GetItem": true, "Query": true, "Scan": true, "BatchGetItem": true, "TransactGetItems": true}
)

// backgroundFunctions run on a schedule, not per request: their calls are
// not the request path's (locally the reconciler runs every second, in AWS every
// few minutes, whatever the traffic).
var backgroundFunctions = map[string]bool{"ReconcilerFunction": true}

// callCounter counts AWS API call attempts by service and operation. It sits
// in the SDK's Finalize step after the retry middleware, so every attempt is
// one count: retries and refused conditional writes included, as AWS bills them.
// It counts only the request path: calls made inside an invocation of a
// function (local.FunctionOf) that is not a background one. The pollers'
// own calls (made outside any invocation) and the reconciler's are left out.
type callCounter struct {
	mu             sync.Mutex
	counts         map[string]int // "Service/Operation" -> attempts
	background     int            // calls of background functions since the last take
	eventSourceSQS map[string]int // the pollers' receives that got messages, and their deletes, by operation
}

func newCallCounter() *callCounter {
	return &callCounter{counts: map[string]int{}, eventSourceSQS: map[string]int{}}
}

// fifoMark ends the name of an SQS call to a FIFO queue, which SQS bills
// dearer than one to a standard queue ("SQS/SendMessage (FIFO)").
const fifoMark = " (FIFO)"

// fifoQueue is the stack value that tells a call to a FIFO queue.
type fifoQueue struct{}

// install adds the counting middleware to every client built from cfg.
func (c *callCounter) install(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(st *middleware.Stack) error {
		err := st.Initialize.Add(middleware.InitializeMiddlewareFunc("BenchQueueType",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if v := reflect.ValueOf(in.Parameters); awsmiddleware.GetServiceID(ctx) == "SQS" && v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
					if f := v.Elem().FieldByName("QueueUrl"); f.IsValid() {
						url, _ := f.Interface().(*string)
						ctx = middleware.WithStackValue(ctx, fifoQueue{}, strings.HasSuffix(aws.ToString(url), ".fifo"))
					}
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
		if err != nil {
			return err
		}
		return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("BenchCallCounter",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				op := awsmiddleware.GetServiceID(ctx) + "/" + awsmiddleware.GetOperationName(ctx)
				name := op
				if fifo, _ := middleware.GetStackValue(ctx, fifoQueue{}).(bool); fifo {
					name += fifoMark
				}
				c.count(local.FunctionOf(ctx), op, name)
				out, md, err := next.HandleFinalize(ctx, in)
				if local.FunctionOf(ctx) == "" && eventSourceBilled(op, out.Result) {
					c.mu.Lock()
					c.eventSourceSQS[name]++
					c.mu.Unlock()
				}
				return out, md, err
			}), middleware.After)
	})
}

// count counts a call of op, named name (op, marked when to a FIFO queue).
func (c *callCounter) count(function, op, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case function == "" || pollerOps[op]:
	case backgroundFunctions[function]:
		c.background++
	default:
		c.counts[name]++
	}
}

// take returns the counts of the request path's calls since the last take
// and starts afresh.
func (c *callCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.counts
	c.counts, c.background = map[string]int{}, 0
	return out
}

// takeEventSource returns the billed event-source SQS calls since the last
// take, by operation.
func (c *callCounter) takeEventSource() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.eventSourceSQS
	c.eventSourceSQS = map[string]int{}
	return out
}

// sqsCalls adds up the SQS calls of counts to standard and FIFO queues.
func sqsCalls(counts map[string]int) (standard, fifo int) {
	for k, n := range counts {
		switch {
		case !strings.HasPrefix(k, "SQS/"):
		case strings.HasSuffix(k, fifoMark):
			fifo += n
		default:
			standard += n
		}
	}
	return standard, fifo
}

// eventSourceBilled reports whether a poller's call is one Lambda's SQS
// event source would be billed for: a receive that got messages, a delete.
func eventSourceBilled(op string, result any) bool {
	switch op {
	case "SQS/ReceiveMessage":
		out, ok := result.(*sqs.ReceiveMessageOutput)
		return ok && len(out.Messages) > 0
	case "SQS/DeleteMessageBatch", "SQS/DeleteMessage":
		return true
	}
	return false
}

// total is the number of the request path's calls since the last take.
func (c *callCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.counts {
		n += v
	}
	return n
}

// callFigures sums counts by the classes the figures use.
type callFigures struct {
	DDBWrites, DDBReads, SQS, KMS, Other int
}

func classify(counts map[string]int) callFigures {
	var f callFigures
	for k, n := range counts {
		svc, op, _ := strings.Cut(k, "/")
		switch {
		case svc == "DynamoDB" && ddbWrites[op]:
			f.DDBWrites += n
		case svc == "DynamoDB" && ddbReads[op]:
			f.DDBReads += n
		case svc == "SQS":
			f.SQS += n
		case svc == "KMS":
			f.KMS += n
		default:
			f.Other += n
		}
	}
	return f
}

// invocations records each handler invocation's duration per function.
type invocations struct {
	mu   sync.Mutex
	took map[string][]time.Duration
}

func newInvocations() *invocations { return &invocations{took: map[string][]time.Duration{}} }

func (v *invocations) record(function string, d time.Duration) {
	v.mu.Lock()
	v.took[function] = append(v.took[function], d)
	v.mu.Unlock()
}

func (v *invocations) take() map[string][]time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := v.took
	v.took = map[string][]time.Duration{}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// byteCounter counts the bytes written to it, and keeps none.
type byteCounter struct{ n atomic.Int64 }

func (b *byteCounter) Write(p []byte) (int, error) { b.n.Add(int64(len(p))); return len(p), nil }

// take returns the bytes written since the last take.
func (b *byteCounter) take() int64 { return b.n.Swap(0) }

// countedHandler logs every record to count and, from its level up, to show.
type countedHandler struct{ count, show slog.Handler }

func (h countedHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.count.Enabled(ctx, l) || h.show.Enabled(ctx, l)
}

func (h countedHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.show.Enabled(ctx, r.Level) {
		if err := h.show.Handle(ctx, r.Clone()); err != nil {
			return err
		}
	}
	if !h.count.Enabled(ctx, r.Level) {
		return nil
	}
	return h.count.Handle(ctx, r)
}

func (h countedHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return countedHandler{count: h.count.WithAttrs(as), show: h.show.WithAttrs(as)}
}

func (h countedHandler) WithGroup(name string) slog.Handler {
	return countedHandler{count: h.count.WithGroup(name), show: h.show.WithGroup(name)}
}
