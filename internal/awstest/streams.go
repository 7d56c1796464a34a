package awstest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/stream"
)

// StreamReader reads the requests table's stream from its start, page after
// page; each Read returns the records added since the previous one, as
// Lambda's event source mapping would hand them to a handler.
type StreamReader struct {
	c     *dynamodbstreams.Client
	arn   string
	iters map[string]*string // shard id -> where the next Read starts
}

// NewStreamReader reads the stream of s's requests table.
func NewStreamReader(cfg aws.Config, s *stack.Stack) *StreamReader {
	return &StreamReader{c: dynamodbstreams.NewFromConfig(cfg), arn: s.Resources["RequestsTable"].Attrs["StreamArn"], iters: map[string]*string{}}
}

// Read returns every record not returned yet.
func (r *StreamReader) Read(ctx context.Context) ([]events.DynamoDBEventRecord, error) {
	desc, err := r.c.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &r.arn})
	if err != nil {
		return nil, fmt.Errorf("describe stream: %w", err)
	}
	var out []events.DynamoDBEventRecord
	for _, sh := range desc.StreamDescription.Shards {
		id := aws.ToString(sh.ShardId)
		next, ok := r.iters[id]
		if !ok {
			it, err := r.c.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn: &r.arn, ShardId: sh.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
			})
			if err != nil {
				return nil, fmt.Errorf("shard iterator: %w", err)
			}
			next = it.ShardIterator
		}
		for next != nil {
			recs, err := r.c.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: next})
			if err != nil {
				return nil, fmt.Errorf("get records: %w", err)
			}
			r.iters[id] = recs.NextShardIterator
			if len(recs.Records) == 0 {
				break // the open shard's end, for now
			}
			for _, rec := range recs.Records {
				out = append(out, stream.FromStreamsRecord(rec))
			}
			next = recs.NextShardIterator
		}
	}
	return out, nil
}

// ReadStream reads s's stream from its start, polling until it holds at
// least want records.
func ReadStream(t testing.TB, cfg aws.Config, s *stack.Stack, want int) []events.DynamoDBEventRecord {
	t.Helper()
	r := NewStreamReader(cfg, s)
	deadline := time.Now().Add(20 * time.Second)
	var out []events.DynamoDBEventRecord
	for {
		recs, err := r.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if out = append(out, recs...); len(out) >= want {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream has %d records, want %d", len(out), want)
		}
	}
}

// Drain receives and deletes a queue's messages until three receives in a
// row come back empty.
func Drain(t testing.TB, cfg aws.Config, url string) []sqstypes.Message {
	t.Helper()
	ctx := context.Background()
	c := sqs.NewFromConfig(cfg)
	var all []sqstypes.Message
	for empty := 0; empty < 3; {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		all = append(all, out.Messages...)
		del := make([]sqstypes.DeleteMessageBatchRequestEntry, len(out.Messages))
		for i, m := range out.Messages {
			del[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
		}
		res, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: del})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Failed) > 0 {
			t.Fatalf("delete: %+v", res.Failed)
		}
	}
	return all
}
