package main

import (
	"math"
	"testing"
)

func TestParseInitTrace(t *testing.T) {
	out := `init runtime @0.41 ms, 0.052 ms clock, 0 bytes, 0 allocs
init github.com/aws/aws-sdk-go-v2/service/dynamodb/schemas @3.7 ms, 1.4 ms clock, 586696 bytes, 3151 allocs
init github.com/aws/aws-sdk-go-v2/service/sqs/schemas @7.8 ms, 0.53 ms clock, 150776 bytes, 920 allocs
init github.com/aws/aws-sdk-go-v2/service/dynamodb/internal/endpoints @10 ms, 0.26 ms clock, 82752 bytes, 687 allocs
init github.com/aws/aws-sdk-go-v2/aws/retry @10 ms, 0.011 ms clock, 1208 bytes, 10 allocs
2026/12/07 19:43:33 configuration: AWS_REGION must be set
`
	total, perService, err := parseInitTrace(out)
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if !near(total, 0.052+1.4+0.53+0.26+0.011) || len(perService) != 2 || !near(perService["dynamodb"], 1.66) || !near(perService["sqs"], 0.53) {
		t.Fatalf("total %v, per service %v", total, perService)
	}
	if _, _, err := parseInitTrace("configuration: AWS_REGION must be set\n"); err == nil {
		t.Fatal("an output without a trace was read as one")
	}
}
