package local

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	st "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/logkey"
	"github.com/pregate/pregate/internal/stream"
)

// StreamHandler is a DynamoDB stream function's handler.
type StreamHandler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// StreamPoller plays Lambda's DynamoDB event source mapping: it reads every
// shard of a stream from TRIM_HORIZON, calls the handler with batches, and on
// a partial batch failure re-invokes from the first failed record (Lambda's
// checkpoint rule with ReportBatchItemFailures). After MaxRetries the rest of
// the batch is reported to the on-failure queue and skipped, as Lambda does.
// With Parallel > 1 (ParallelizationFactor) the records read are split by
// item key into that many batches handled at once, so that one item's
// records stay in order, as Lambda does.
type StreamPoller struct {
	Streams      *dynamodbstreams.Client
	StreamARN    string
	Handler      StreamHandler
	BatchSize    int32
	MaxRetries   int
	FailureQueue string // SQS URL of the on-failure destination
	SQS          *sqs.Client
	Log          *slog.Logger
	Idle         time.Duration // wait between empty polls
	// Filters are the event source's FilterCriteria; records matching none
	// are dropped before the handler sees them, as Lambda does. Empty = all pass.
	Filters []stack.FilterPattern
	// Parallel is how many batches are handled at once (1 when 0).
	Parallel int

	// lastWritten is when the last record read was written (Unix nanoseconds),
	// 0 once a read finds nothing new.
	lastWritten atomic.Int64
}

// IteratorAge is how long ago the last record read was written, while the
// poller reads or delivers it (Lambda's IteratorAge metric of an event
// source mapping): how far the handler is behind the table's writes; 0
// once a read finds nothing new.
func (p *StreamPoller) IteratorAge() time.Duration {
	at := p.lastWritten.Load()
	if at == 0 {
		return 0
	}
	return time.Since(time.Unix(0, at))
}

// Run polls until ctx ends.
func (p *StreamPoller) Run(ctx context.Context) {
	iterators := map[string]*string{} // shard id -> next iterator
	for ctx.Err() == nil {
		// A cancelled context is Stop, not a failure: say nothing.
		if err := p.discoverShards(ctx, iterators); err != nil && ctx.Err() == nil {
			p.Log.Warn("stream poller: describe stream", "error", err.Error())
		}
		got := 0
		for shard, it := range iterators {
			if it == nil {
				continue
			}
			out, err := p.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it, Limit: aws.Int32(p.BatchSize)})
			if err != nil {
				if ctx.Err() == nil {
					p.Log.Warn("stream poller: get records", "shard", shard, "error", err.Error())
				}
				continue
			}
			iterators[shard] = out.NextShardIterator
			if n := len(out.Records); n > 0 {
				if at := out.Records[n-1].Dynamodb.ApproximateCreationDateTime; at != nil {
					p.lastWritten.Store(at.UnixNano())
				}
			} else {
				p.lastWritten.Store(0)
			}
			if len(out.Records) > 0 {
				got += len(out.Records)
				records := make([]events.DynamoDBEventRecord, len(out.Records))
				for i, r := range out.Records {
					records[i] = stream.FromStreamsRecord(r)
					records[i].EventSourceArn = p.StreamARN
				}
				if batch := stack.KeepMatching(p.Filters, records); len(batch) > 0 {
					p.deliverAll(ctx, batch)
				}
			}
		}
		if got == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(p.Idle):
			}
		}
	}
}

func (p *StreamPoller) discoverShards(ctx context.Context, iterators map[string]*string) error {
	desc, err := p.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(p.StreamARN)})
	if err != nil {
		return err
	}
	for _, sh := range desc.StreamDescription.Shards {
		id := aws.ToString(sh.ShardId)
		if _, known := iterators[id]; known {
			continue
		}
		it, err := p.Streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
			StreamArn: aws.String(p.StreamARN), ShardId: sh.ShardId, ShardIteratorType: st.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			return err
		}
		iterators[id] = it.ShardIterator
	}
	return nil
}

// deliverAll splits the records by item key into at most Parallel batches,
// each keeping its records' order, and delivers them at once.
func (p *StreamPoller) deliverAll(ctx context.Context, records []events.DynamoDBEventRecord) {
	if p.Parallel <= 1 {
		p.deliver(ctx, records)
		return
	}
	batches := make([][]events.DynamoDBEventRecord, p.Parallel)
	for _, r := range records {
		h := fnv.New32a()
		for _, k := range slices.Sorted(maps.Keys(r.Change.Keys)) {
			_, _ = h.Write([]byte(k + "=" + keyValue(r.Change.Keys[k]) + "\x00"))
		}
		i := h.Sum32() % uint32(p.Parallel)
		batches[i] = append(batches[i], r)
	}
	var wg sync.WaitGroup
	for _, b := range batches {
		if len(b) > 0 {
			wg.Go(func() { p.deliver(ctx, b) })
		}
	}
	wg.Wait()
}

// keyValue is a key attribute's value as text (keys are strings or numbers).
func keyValue(v events.DynamoDBAttributeValue) string {
	switch v.DataType() {
	case events.DataTypeString:
		return v.String()
	case events.DataTypeNumber:
		return v.Number()
	}
	return ""
}

// deliver invokes the handler until the batch is processed or retries run out.
func (p *StreamPoller) deliver(ctx context.Context, batch []events.DynamoDBEventRecord) {
	for attempt := 0; len(batch) > 0 && ctx.Err() == nil; attempt++ {
		resp, err := p.Handler(ctx, events.DynamoDBEvent{Records: batch})
		failedFrom := len(batch)
		if err != nil {
			failedFrom = 0
			if ctx.Err() != nil {
				return // stopped mid-invocation: the records stay in the stream
			}
			p.Log.Error("stream handler error", "error", err.Error(), logkey.Attempt, attempt+1)
		}
		for _, f := range resp.BatchItemFailures {
			for i, r := range batch {
				if r.Change.SequenceNumber == f.ItemIdentifier && i < failedFrom {
					failedFrom = i
				}
			}
		}
		batch = batch[failedFrom:]
		if len(batch) == 0 {
			return
		}
		if attempt+1 > p.MaxRetries {
			p.sendToFailureQueue(ctx, batch)
			return
		}
	}
}

// sendToFailureQueue records what Lambda's on-failure destination would: the
// shard position of the records given up on, not the records themselves.
func (p *StreamPoller) sendToFailureQueue(ctx context.Context, batch []events.DynamoDBEventRecord) {
	info, _ := json.Marshal(map[string]any{
		"requestContext": map[string]any{"condition": "RetryAttemptsExhausted", "approximateInvokeCount": p.MaxRetries + 1},
		"DDBStreamBatchInfo": map[string]any{
			"streamArn": p.StreamARN, "batchSize": len(batch),
			"startSequenceNumber": batch[0].Change.SequenceNumber, "endSequenceNumber": batch[len(batch)-1].Change.SequenceNumber,
		},
	})
	p.Log.Error("stream records given up on", "records", len(batch), "first_sequence", batch[0].Change.SequenceNumber)
	if _, err := p.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(p.FailureQueue), MessageBody: aws.String(string(info))}); err != nil {
		p.Log.Error("stream poller: on-failure destination", "error", err.Error())
	}
}
