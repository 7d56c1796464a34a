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
