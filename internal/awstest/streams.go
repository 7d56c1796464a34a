package awstest

import (
	"context"
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

// ReadStream reads the requests table's stream from its start, page after
// page, polling until it holds at least want records; the records come as
// Lambda's event source mapping would hand them to a handler.
func ReadStream(t testing.TB, cfg aws.Config, s *stack.Stack, want int) []events.DynamoDBEventRecord {
	t.Helper()
	ctx := context.Background()
	c := dynamodbstreams.NewFromConfig(cfg)
	deadline := time.Now().Add(20 * time.Second)
	for {
		desc, err := c.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(s.Resources["RequestsTable"].Attrs["StreamArn"])})
		if err != nil {
			t.Fatal(err)
		}
		var out []events.DynamoDBEventRecord
		for _, sh := range desc.StreamDescription.Shards {
			it, err := c.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn: desc.StreamDescription.StreamArn, ShardId: sh.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
			})
			if err != nil {
				t.Fatal(err)
			}
			for next := it.ShardIterator; next != nil; {
				recs, err := c.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: next})
				if err != nil {
					t.Fatal(err)
				}
				if len(recs.Records) == 0 {
					break // the open shard's end, for now
				}
				for _, r := range recs.Records {
					out = append(out, stream.FromStreamsRecord(r))
				}
				next = recs.NextShardIterator
			}
		}
		if len(out) >= want {
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
