package awstest

import (
	"context"
	"fmt"
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

// StreamReader reads the requests table's stream from its start; each Read
// returns the records added since the previous one, as the stream's
// Lambda trigger would receive them.
type StreamReader struct {
	c     *dynamodbstreams.Client
	arn   string
	iters map[string]*string // shard id -> next iterator
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
		it, ok := r.iters[aws.ToString(sh.ShardId)]
		if !ok {
			first, err := r.c.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn: &r.arn, ShardId: sh.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
			})
			if err != nil {
				return nil, fmt.Errorf("shard iterator: %w", err)
			}
			it = first.ShardIterator
		}
		for it != nil {
			recs, err := r.c.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it})
			if err != nil {
				return nil, fmt.Errorf("get records: %w", err)
			}
			r.iters[aws.ToString(sh.ShardId)] = recs.NextShardIterator
			for _, rec := range recs.Records {
				out = append(out, stream.FromStreamsRecord(rec))
			}
			if len(recs.Records) == 0 {
				break
			}
			it = recs.NextShardIterator
		}
	}
	return out, nil
}

// ReadStream polls s's stream from its start until it holds want records.
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
		time.Sleep(50 * time.Millisecond)
	}
}

// Drain receives and deletes until three receives in a row come back empty.
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
		for _, m := range out.Messages {
			all = append(all, m)
			if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return all
}
