package faults

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
)

func TestParseRules(t *testing.T) {
	r, err := ParseRules("DynamoDB_20120810.UpdateItem=0.02, SQS.SendMessageBatch=0.01,*=0.004,PutItem:lost_response=0.5")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		op   string
		kind Kind
		want float64
	}{
		{"DynamoDB_20120810.UpdateItem", Throttle, 0.004}, // five kinds apply to a DynamoDB write
		{"DynamoDB_20120810.UpdateItem", Conflict, 0.004},
		{"DynamoDB_20120810.UpdateItem", Slow, 0},
		{"DynamoDB_20120810.GetItem", Throttle, 0.001}, // four to a read
		{"DynamoDB_20120810.GetItem", Conflict, 0},
		{"secretsmanager.GetSecretValue", Slow, 0.0008}, // five to a secret read
		{"AmazonSQS.SendMessageBatch", Timeout, 0.0025},
		{"DynamoDB_20120810.PutItem", LostResponse, 0.5}, // short op name, kind alone
		{"DynamoDB_20120810.PutItem", Throttle, 0.0008},  // other kinds fall back to *
		{"TrentService.Decrypt", ServerError, 0.001},
	}
	for _, c := range cases {
		if got := r.Rate(c.op, c.kind); got != c.want {
			t.Errorf("Rate(%s, %s) = %v, want %v", c.op, c.kind, got, c.want)
		}
	}
	if r, _ := ParseRules(""); r.Rate("AmazonSQS.SendMessage", Throttle) != 0 {
		t.Error("empty rules inject")
	}
	for _, bad := range []string{"x", "UpdateItem=2", "UpdateItem=-0.1", "UpdateItem=a", "=0.1", "UpdateItem:melt=0.1", "*=0.1,*=0.2"} {
		if _, err := ParseRules(bad); err == nil {
			t.Errorf("ParseRules(%q) accepted", bad)
		}
	}
}

// emulator stands in for moto: it counts the calls it answers.
func emulator(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// proxyFor starts a proxy that always injects kind (or nothing when "").
func proxyFor(t *testing.T, target string, kind Kind) (*Proxy, aws.Config) {
	t.Helper()
	rules := Rules{}
	if kind != "" {
		rules["*:"+string(kind)] = 1
	}
	p := &Proxy{Target: target, Rules: rules, Hang: 50 * time.Millisecond,
		Tag: func(_ string, body []byte) []string {
			if strings.Contains(string(body), "pri_1") {
				return []string{"pri_1"}
			}
			return nil
		}}
	url, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""),
		BaseEndpoint: aws.String(url), RetryMaxAttempts: 1}
}

func getItem(cfg aws.Config) error {
	_, err := dynamodb.NewFromConfig(cfg).GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("t"),
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "pri_1"}}})
	return err
}

func TestKindsAsTheSDKSeesThem(t *testing.T) {
	srv, applied := emulator(t)
	cases := []struct {
		kind     Kind
		code     string // the SDK's error code; "" for a transport error
		forwards bool
	}{
		{"", "", true},
		{Throttle, "ProvisionedThroughputExceededException|ThrottlingException", false},
		{ServerError, "InternalFailure", false},
		{Timeout, "", false},
	}
	for _, c := range cases {
		t.Run(string(c.kind), func(t *testing.T) {
			p, cfg := proxyFor(t, srv.URL, c.kind)
			before := applied.Load()
			err := getItem(cfg)
			if got := applied.Load() - before; (got == 1) != c.forwards {
				t.Errorf("forwarded %d calls", got)
			}
			switch {
			case c.kind == "":
				if err != nil || p.Count() != 0 {
					t.Fatalf("clean call: err %v, %d faults", err, p.Count())
				}
				return
			case c.code != "":
				var api smithy.APIError
				if !errors.As(err, &api) || !slices.Contains(strings.Split(c.code, "|"), api.ErrorCode()) {
					t.Fatalf("got %v, want API error %s", err, c.code)
				}
			case err == nil:
				t.Fatal("no error")
			}
			f := p.Faults()
			if len(f) != 1 || f[0].Kind != c.kind || f[0].Op != "DynamoDB_20120810.GetItem" || len(f[0].Tags) != 1 {
				t.Fatalf("faults %+v", f)
			}
		})
	}
}

func TestSQSThrottleIsRetried(t *testing.T) {
	srv, applied := emulator(t)
	p := &Proxy{Target: srv.URL, Rules: Rules{"AmazonSQS.SendMessage:throttle": 1}}
	url, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""), BaseEndpoint: aws.String(url), RetryMaxAttempts: 2}
	_, err = sqs.NewFromConfig(cfg).SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(srv.URL + "/q"), MessageBody: aws.String("b")})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "ThrottlingException" {
		t.Fatalf("got %v, want ThrottlingException", err)
	}
	if p.Count() != 2 || applied.Load() != 0 {
		t.Fatalf("%d faults (want 2: the SDK retries a throttle), %d applied", p.Count(), applied.Load())
	}
	if s := p.Summary(); len(s) != 1 || s[0] != "throttle AmazonSQS.SendMessage 2" {
		t.Fatalf("summary %q", s)
	}
}

func TestLostResponseAppliesTheCall(t *testing.T) {
	srv, applied := emulator(t)
	p, cfg := proxyFor(t, srv.URL, LostResponse)
	for range 6 { // both ways of losing it: a 500 and a dropped connection
		if err := getItem(cfg); err == nil {
			t.Fatal("lost response answered")
		}
	}
	if applied.Load() != 6 || p.Count() != 6 {
		t.Fatalf("%d applied, %d faults, want 6 and 6", applied.Load(), p.Count())
	}
}

func TestObserveAndUntargetedCalls(t *testing.T) {
	srv, applied := emulator(t)
	var seen atomic.Int64
	p := &Proxy{Target: srv.URL, Rules: Rules{"*": 1}, Observe: func(op string, _, resp []byte) { seen.Add(1) }}
	url, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// A call without X-Amz-Target is never failed, even at rate 1.
	resp, err := http.Get(url + "/moto-api/data.json")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	if applied.Load() != 1 || p.Count() != 0 || seen.Load() != 1 {
		t.Fatalf("applied %d, faults %d, observed %d", applied.Load(), p.Count(), seen.Load())
	}
	// Paused, nothing is failed either.
	p.Pause()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""), BaseEndpoint: aws.String(url), RetryMaxAttempts: 1}
	if err := getItem(cfg); err != nil || p.Count() != 0 {
		t.Fatalf("paused: %v, %d faults", err, p.Count())
	}
	p.Resume()
	if err := getItem(cfg); err == nil || p.Count() != 1 {
		t.Fatalf("resumed: %v, %d faults", err, p.Count())
	}
}

func TestDynamoDBThrottlesBothWays(t *testing.T) {
	srv, _ := emulator(t)
	_, cfg := proxyFor(t, srv.URL, Throttle)
	seen := map[string]bool{}
	for range 20 {
		var api smithy.APIError
		if err := getItem(cfg); errors.As(err, &api) {
			seen[api.ErrorCode()] = true
		}
	}
	if !seen["ThrottlingException"] || !seen["ProvisionedThroughputExceededException"] || len(seen) != 2 {
		t.Fatalf("throttles seen: %v", seen)
	}
}

func TestConflictsAsTheSDKSeesThem(t *testing.T) {
	srv, applied := emulator(t)
	p, cfg := proxyFor(t, srv.URL, Conflict)
	db := dynamodb.NewFromConfig(cfg)
	key := map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "pri_1"}}
	_, err := db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String("t"), Key: key})
	var conflict *types.TransactionConflictException
	if !errors.As(err, &conflict) {
		t.Fatalf("UpdateItem: got %v, want TransactionConflictException", err)
	}
	update := types.TransactWriteItem{Update: &types.Update{TableName: aws.String("t"), Key: key, UpdateExpression: aws.String("SET a = :a")}}
	_, err = db.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{update, update}})
	var cancelled *types.TransactionCanceledException
	if !errors.As(err, &cancelled) || len(cancelled.CancellationReasons) != 2 ||
		aws.ToString(cancelled.CancellationReasons[0].Code) != "TransactionConflict" || aws.ToString(cancelled.CancellationReasons[1].Code) != "None" {
		t.Fatalf("TransactWriteItems: got %v, want a cancellation for a TransactionConflict", err)
	}
	// A read meets no conflict, even at rate 1.
	if err := getItem(cfg); err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	if applied.Load() != 1 || p.CountKind(Conflict) != 2 || p.Count() != 2 {
		t.Fatalf("%d applied, %d conflicts, %d faults", applied.Load(), p.CountKind(Conflict), p.Count())
	}
}

func TestSlowSecretReadIsAnswered(t *testing.T) {
	srv, applied := emulator(t)
	p := &Proxy{Target: srv.URL, Rules: Rules{"*:slow": 1}, SlowBy: 300 * time.Millisecond}
	url, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""), BaseEndpoint: aws.String(url), RetryMaxAttempts: 1}
	start := time.Now()
	_, err = secretsmanager.NewFromConfig(cfg).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	if took := time.Since(start); err != nil || took < 300*time.Millisecond {
		t.Fatalf("GetSecretValue: %v after %s, want an answer after 300ms", err, took)
	}
	if err := getItem(cfg); err != nil { // slow applies to secret reads only
		t.Fatal(err)
	}
	f := p.Faults()
	if applied.Load() != 2 || len(f) != 1 || f[0].Kind != Slow || !f[0].Absorbed {
		t.Fatalf("%d applied, faults %+v", applied.Load(), f)
	}
}

// A fault is absorbed when a later attempt of the same SDK operation is
// answered, and only then.
func TestAbsorbedFaults(t *testing.T) {
	srv, _ := emulator(t)
	first := true
	p := &Proxy{Target: srv.URL, Rules: Rules{"*:server_error": 0.5}, Rand: func() float64 {
		if first { // the first roll fails the call; the others pass
			first = false
			return 0
		}
		return 0.99
	}}
	url, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	retrying := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""), BaseEndpoint: aws.String(url), RetryMaxAttempts: 2}
	if err := getItem(retrying); err != nil {
		t.Fatalf("retried call: %v", err)
	}
	first = true
	once := retrying.Copy()
	once.RetryMaxAttempts = 1
	if err := getItem(once); err == nil {
		t.Fatal("a call without retries was answered")
	}
	f := p.Faults()
	if len(f) != 2 || !f[0].Absorbed || f[1].Absorbed {
		t.Fatalf("faults %+v: want the retried one absorbed, the other not", f)
	}
}
