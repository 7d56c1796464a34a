package main

import (
	"context"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pregate/pregate/infra/stack"
)

// TestLambdaSecondsModel prices the waits, not the emulator's durations: a
// run whose handlers took seconds against moto is billed for its calls at
// AWS latencies, its validators' answers, its CPU time and the rounding.
func TestLambdaSecondsModel(t *testing.T) {
	r := &systemRun{M: 3, N: 2,
		Calls:       map[string]int{"DynamoDB/GetItem": 4, "DynamoDB/UpdateItem": 6, "DynamoDB/Query": 1, "SQS/SendMessageBatch": 2, "KMS/Decrypt": 1},
		Invocations: map[string][]time.Duration{"PublicApiFunction": {3 * time.Second, 2 * time.Second}, "DispatcherFunction": {5 * time.Second, time.Second}},
	}
	// 10 item calls × 10 ms + 1 query × 20 ms + 2 SQS × 20 ms + 1 KMS × 15 ms
	// + 6 deliveries × 100 ms + 2 requests × 1 ms CPU + 4 invocations × 0.5 ms.
	want := 0.100 + 0.020 + 0.040 + 0.015 + 0.600 + 0.002 + 0.002
	if got := lambdaSeconds(r, time.Millisecond); math.Abs(got-want) > 1e-9 {
		t.Fatalf("lambdaSeconds = %v s, want %v s", got, want)
	}
	if got := measuredLambdaSeconds(r); got != 11 {
		t.Fatalf("measuredLambdaSeconds = %v s, want 11 s", got)
	}
}

// The cost counts everything billed per request, by hand for one request:
// 2 API calls ($2), 5 invocations ($1), 8 WCU and 4 RCU ($5 + $0.5), 3 WCU
// and 2 RCU of the delivery log ($1.875 + $0.25), 2 SQS calls of ours to a
// FIFO queue and 1 to a standard one, and 5 of the event sources to a
// standard queue ($1 + $2.40), 1 KMS call ($3), and 2,000 bytes logged plus 3 × 320 of
// Lambda's lines (the stream function at INFO, the API at WARN) and 2 × 320
// of access log (3,600 bytes: $1.80), per million.
func TestCostCountsEverythingBilled(t *testing.T) {
	l := newLedger()
	l.write("RequestsTable", "pri_1", "pri_1", 8)
	invocations := map[string][]time.Duration{"PublicApiFunction": {0, 0}, "StreamFunction": {0, 0, 0}}
	logs := logModel{platform: map[string]int64{"StreamFunction": 320}, accessLog: 320}
	r := &systemRun{M: 0, N: 1, Writes: l, Reads: reads{RCU: 4, OtherWCU: 3, LogRCU: 2}, EventSourceSQS: map[string]int{"SQS/ReceiveMessage": 2, "SQS/DeleteMessageBatch": 3}, LogBytes: 2000,
		ServiceLogBytes: logs.bytes(invocations), Calls: map[string]int{"SQS/SendMessage" + fifoMark: 2, "SQS/SendMessageBatch": 1, "KMS/Decrypt": 1}, Invocations: invocations}
	c := cost(r, 0)
	want := costBreakdown{APIGateway: 2, LambdaRequests: 1, DynamoDB: 5.5, OtherTables: 2.125, SQS: 3.4, KMS: 3, Logs: 1.8, LambdaDuration: c.LambdaDuration}
	for name, pair := range map[string][2]float64{"API Gateway": {c.APIGateway, want.APIGateway}, "Lambda requests": {c.LambdaRequests, want.LambdaRequests},
		"DynamoDB": {c.DynamoDB, want.DynamoDB}, "other tables": {c.OtherTables, want.OtherTables}, "SQS": {c.SQS, want.SQS},
		"KMS": {c.KMS, want.KMS}, "logs": {c.Logs, want.Logs}} {
		if math.Abs(pair[0]-pair[1]) > 1e-9 {
			t.Errorf("%s: %v per million, want %v", name, pair[0], pair[1])
		}
	}
	if math.Abs(c.total()-want.total()) > 1e-9 || c.LambdaDuration <= 0 {
		t.Errorf("total %v, want %v (Lambda duration %v)", c.total(), want.total(), c.LambdaDuration)
	}
}

// Lambda's own lines are counted for a function at the INFO system log
// level, not at WARN; the access log line is the template's format with
// API Gateway's values, and a variable the bench has no value for fails.
func TestLogModelFollowsTheTemplate(t *testing.T) {
	tmpl, err := stack.ParseTemplate([]byte(`
Resources:
  HttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      AccessLogSettings:
        Format: '{"requestId":"$context.requestId","status":"$context.status"}'
  PublicApiFunction:
    Type: AWS::Serverless::Function
    Properties:
      LoggingConfig: {LogFormat: JSON, SystemLogLevel: WARN}
  StreamFunction:
    Type: AWS::Serverless::Function
    Properties:
      LoggingConfig: {LogFormat: JSON}
`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := newLogModel(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	line := len(`{"requestId":"JKx1zhQ9oAMEb8Q=","status":"200"}` + "\n")
	if got, want := m.bytes(map[string][]time.Duration{"PublicApiFunction": {0, 0}, "StreamFunction": {0}}), int64(2*line+platformLogBytes); got != want {
		t.Fatalf("%d bytes, want %d", got, want)
	}
	tmpl.Resources["HttpApi"].Properties["AccessLogSettings"].(map[string]any)["Format"] = `{"agent":"$context.identity.userAgent"}`
	if _, err := newLogModel(tmpl); err == nil || !strings.Contains(err.Error(), "$context.identity.userAgent") {
		t.Fatalf("an unknown variable: %v", err)
	}
}

// answerEmpty answers every AWS call 200 with an empty JSON object.
type answerEmpty struct{}

func (answerEmpty) Do(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
}

// An SQS call is named by its queue's type, which prices it.
func TestCallCounterTellsFIFOQueues(t *testing.T) {
	c := newCallCounter()
	cfg := aws.Config{Region: "us-east-1", HTTPClient: answerEmpty{}, Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")}
	c.install(&cfg)
	client := sqs.NewFromConfig(cfg)
	for _, q := range []string{"https://sqs.us-east-1.amazonaws.com/1/dispatch", "https://sqs.us-east-1.amazonaws.com/1/approved.fifo"} {
		if _, err := client.DeleteMessageBatch(context.Background(), &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q), Entries: []sqstypes.DeleteMessageBatchRequestEntry{{Id: aws.String("1"), ReceiptHandle: aws.String("r")}}}); err != nil {
			t.Fatal(err)
		}
	}
	got := c.takeEventSource()
	if got["SQS/DeleteMessageBatch"] != 1 || got["SQS/DeleteMessageBatch"+fifoMark] != 1 || len(got) != 2 {
		t.Fatalf("event source calls: %v", got)
	}
	if standard, fifo := sqsCalls(got); standard != 1 || fifo != 1 {
		t.Fatalf("priced as %d standard, %d FIFO", standard, fifo)
	}
}
