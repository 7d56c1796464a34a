package main

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"

	"github.com/pregate/pregate/infra/local"
)

// pollerOps are the calls only the local pollers make, standing in for
// Lambda's event source mappings: AWS makes them for us (the stream reads
// are free to a Lambda trigger; the SQS receives and deletes are billed but
// follow the queue's traffic shape, not our code), so they are not ours.
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
	mu         sync.Mutex
	counts     map[string]int // "Service/Operation" -> attempts
	background int            // calls of background functions since the last take
}

func newCallCounter() *callCounter { return &callCounter{counts: map[string]int{}} }

// install adds the counting middleware to every client built from cfg.
func (c *callCounter) install(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(st *middleware.Stack) error {
		return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("BenchCallCounter",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				c.count(local.FunctionOf(ctx), awsmiddleware.GetServiceID(ctx)+"/"+awsmiddleware.GetOperationName(ctx))
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	})
}

func (c *callCounter) count(function, op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case function == "" || pollerOps[op]:
	case backgroundFunctions[function]:
		c.background++
	default:
		c.counts[op]++
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
