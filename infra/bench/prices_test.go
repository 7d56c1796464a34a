package main

import (
	"math"
	"testing"
	"time"
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
// and 2 RCU of the delivery log ($1.875 + $0.25), 2 SQS calls of ours and 6 of the event
// sources ($4), 1 KMS call ($3), and 2,000 bytes logged plus 5 × 320 of
// Lambda's (3,600 bytes: $1.80), per million.
func TestCostCountsEverythingBilled(t *testing.T) {
	l := newLedger()
	l.write("RequestsTable", "pri_1", "pri_1", 8)
	r := &systemRun{M: 0, N: 1, Writes: l, Reads: reads{RCU: 4, OtherWCU: 3, LogRCU: 2}, EventSourceSQS: 6, LogBytes: 2000,
		Calls:       map[string]int{"SQS/SendMessage": 2, "KMS/Decrypt": 1},
		Invocations: map[string][]time.Duration{"PublicApiFunction": {0, 0}, "StreamFunction": {0, 0, 0}}}
	c := cost(r, 0)
	want := costBreakdown{APIGateway: 2, LambdaRequests: 1, DynamoDB: 5.5, OtherTables: 2.125, SQS: 4, KMS: 3, Logs: 1.8, LambdaDuration: c.LambdaDuration}
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
