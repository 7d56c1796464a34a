package stack_test

// These tests establish what the emulator guarantees, because every
// correctness test of the gate stands on it. They run against whatever
// AWS_ENDPOINT_URL names, so they hold LocalStack or a real account to the same bar.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/awsenv"
	"github.com/pregate/pregate/internal/awstest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// raceConditionalUpdates fires n concurrent conditional updates at one item
// for each round and returns how many succeeded per round.
func raceConditionalUpdates(t *testing.T, c *dynamodb.Client, table string, rounds, n int) []int {
	t.Helper()
	ctx := context.Background()
	wins := make([]int, rounds)
	for r := range rounds {
		id := fmt.Sprintf("item-%d", r)
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: map[string]ddbtypes.AttributeValue{
			"id": &ddbtypes.AttributeValueMemberS{Value: id}, "status": &ddbtypes.AttributeValueMemberS{Value: "pending"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		var won atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
					TableName:                 &table,
					Key:                       map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: id}},
					UpdateExpression:          aws.String("SET #s = :approved, winner = :i"),
					ConditionExpression:       aws.String("#s = :pending"),
					ExpressionAttributeNames:  map[string]string{"#s": "status"},
					ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":approved": &ddbtypes.AttributeValueMemberS{Value: "approved"}, ":pending": &ddbtypes.AttributeValueMemberS{Value: "pending"}, ":i": &ddbtypes.AttributeValueMemberN{Value: strconv.Itoa(i)}},
				})
				var ccf *ddbtypes.ConditionalCheckFailedException
				switch {
				case err == nil:
					won.Add(1)
				case errors.As(err, &ccf):
				default:
					t.Errorf("update: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		wins[r] = int(won.Load())
	}
	return wins
}

func TestConditionalUpdateIsAtomic(t *testing.T) {
	s, cfg := awstest.Stack(t)
	c := dynamodb.NewFromConfig(cfg)
	for r, w := range raceConditionalUpdates(t, c, s.Resources["RequestsTable"].Ref, 20, 50) {
		if w != 1 {
			t.Errorf("round %d: %d of 50 concurrent conditional updates succeeded, want exactly 1", r, w)
		}
	}
}

// TestThreadedMotoRace reproduces why infra/moto/server.py serialises
// DynamoDB calls: plain threaded moto lets more than one conditional update
// win. Opt-in (PREGATE_REPRODUCE_MOTO_RACE=1) because a race shows itself only
// sometimes; it reports what it saw rather than asserting it.
func TestThreadedMotoRace(t *testing.T) {
	if os.Getenv("PREGATE_REPRODUCE_MOTO_RACE") == "" {
		t.Skip("set PREGATE_REPRODUCE_MOTO_RACE=1 to reproduce moto's threaded race")
	}
	awstest.Endpoint(t)
	m, err := stack.StartMoto(context.Background(), awstest.Root(), stack.MotoOptions{ThreadedDynamoDB: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	tmpl, _ := stack.LoadTemplate(awstest.Root() + "/template.yaml")
	cfg := awsenv.Emulator(m.Endpoint)
	s, err := stack.Provision(context.Background(), cfg, tmpl, "race")
	if err != nil {
		t.Fatal(err)
	}
	wins := raceConditionalUpdates(t, dynamodb.NewFromConfig(cfg), s.Resources["RequestsTable"].Ref, 50, 50)
	double := 0
	for _, w := range wins {
		if w > 1 {
			double++
		}
	}
	t.Logf("threaded moto: %d of %d rounds let more than one conditional update win (wins per round: %v)", double, len(wins), wins)
}

func TestStreamCarriesOldAndNewImages(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	table := s.Resources["RequestsTable"].Ref
	c := dynamodb.NewFromConfig(cfg)
	key := map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "pri_1"}}
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: map[string]ddbtypes.AttributeValue{
		"id": key["id"], "status": &ddbtypes.AttributeValueMemberS{Value: "awaiting_pre_approval"},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key,
		UpdateExpression:          aws.String("SET #s = :a"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":a": &ddbtypes.AttributeValueMemberS{Value: "approved"}},
	}); err != nil {
		t.Fatal(err)
	}

	streams := dynamodbstreams.NewFromConfig(cfg)
	desc, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(s.Resources["RequestsTable"].Attrs["StreamArn"])})
	if err != nil {
		t.Fatal(err)
	}
	if desc.StreamDescription.StreamViewType != streamtypes.StreamViewTypeNewAndOldImages || len(desc.StreamDescription.Shards) == 0 {
		t.Fatalf("stream view %s with %d shards", desc.StreamDescription.StreamViewType, len(desc.StreamDescription.Shards))
	}
	it, err := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn: desc.StreamDescription.StreamArn, ShardId: desc.StreamDescription.Shards[0].ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Records) != 2 {
		t.Fatalf("got %d records, want INSERT and MODIFY", len(out.Records))
	}
	ins, mod := out.Records[0], out.Records[1]
	if ins.EventName != streamtypes.OperationTypeInsert || ins.Dynamodb.NewImage["status"].(*streamtypes.AttributeValueMemberS).Value != "awaiting_pre_approval" || ins.Dynamodb.OldImage != nil {
		t.Errorf("INSERT record wrong: %+v", ins.Dynamodb)
	}
	if mod.EventName != streamtypes.OperationTypeModify ||
		mod.Dynamodb.OldImage["status"].(*streamtypes.AttributeValueMemberS).Value != "awaiting_pre_approval" ||
		mod.Dynamodb.NewImage["status"].(*streamtypes.AttributeValueMemberS).Value != "approved" {
		t.Errorf("MODIFY record wrong: %+v", mod.Dynamodb)
	}
	if aws.ToString(ins.Dynamodb.SequenceNumber) >= aws.ToString(mod.Dynamodb.SequenceNumber) && len(aws.ToString(ins.Dynamodb.SequenceNumber)) == len(aws.ToString(mod.Dynamodb.SequenceNumber)) {
		t.Errorf("sequence numbers not increasing: %s then %s", aws.ToString(ins.Dynamodb.SequenceNumber), aws.ToString(mod.Dynamodb.SequenceNumber))
	}
}

func TestSQSVisibilityTimeoutAndRedrive(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	q := sqs.NewFromConfig(cfg)
	// A queue like DispatchQueue but with maxReceiveCount 2, so redrive shows quickly.
	name := awstest.UniqueName("redrive")
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name, Attributes: map[string]string{
		"VisibilityTimeout": "30",
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"2"}`, s.Resources["DispatchDLQ"].Attrs["Arn"]),
	}})
	if err != nil {
		t.Fatal(err)
	}
	url := created.QueueUrl
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String("m1")}); err != nil {
		t.Fatal(err)
	}
	receive := func(url *string) []sqstypes.Message {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Messages
	}
	first := receive(url)
	if len(first) != 1 {
		t.Fatalf("first receive: %d messages", len(first))
	}
	if again := receive(url); len(again) != 0 {
		t.Fatalf("message visible again within its visibility timeout")
	}
	// What the dispatcher does for a retry: make the message visible after a delay (here 0).
	if _, err := q.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: url, ReceiptHandle: first[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	second := receive(url)
	if len(second) != 1 || second[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("second receive: %+v", second)
	}
	if _, err := q.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: url, ReceiptHandle: second[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	// A third receive exceeds maxReceiveCount: the message moves to the DLQ instead.
	if third := receive(url); len(third) != 0 {
		t.Fatalf("message received a third time instead of being redriven: %+v", third)
	}
	dlq, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.Resources["DispatchDLQ"].Ref), MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(dlq.Messages) != 1 || aws.ToString(dlq.Messages[0].Body) != "m1" {
		t.Fatalf("DLQ holds %+v, want m1", dlq.Messages)
	}

	// The visibility timeout also runs out on its own: a message received and
	// never deleted (a dispatcher that crashed) comes back after it.
	short := awstest.UniqueName("visibility")
	created, err = q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &short, Attributes: map[string]string{"VisibilityTimeout": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: created.QueueUrl, MessageBody: aws.String("m2")}); err != nil {
		t.Fatal(err)
	}
	if got := receive(created.QueueUrl); len(got) != 1 {
		t.Fatalf("first receive: %d messages", len(got))
	}
	if got := receive(created.QueueUrl); len(got) != 0 {
		t.Fatal("message visible again within its 1 s visibility timeout")
	}
	time.Sleep(1500 * time.Millisecond)
	if got := receive(created.QueueUrl); len(got) != 1 || got[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("receive after the visibility timeout ran out: %+v, want m2 received a second time", got)
	}
}

func TestFIFODeduplicatesByID(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	q := sqs.NewFromConfig(cfg)
	url := aws.String(s.Resources["ApprovedQueue"].Ref)
	for range 3 {
		if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String(`{"privacy_request_id":"pri_1"}`),
			MessageGroupId: aws.String("pri_1"), MessageDeduplicationId: aws.String("pri_1")}); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 60})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		got += len(out.Messages)
	}
	if got != 1 {
		t.Fatalf("three sends with one deduplication id gave %d messages, want 1", got)
	}
}
