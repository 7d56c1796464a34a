package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/pregate/pregate/internal/app"
)

// A line logged with an invocation's context carries its Lambda request id,
// also through a logger derived with With; without one, the key is absent.
func TestLoggerAddsTheLambdaRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := app.NewLogger(&buf, slog.LevelInfo).With("function", "DispatcherFunction")
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "c6af9ac6-7b61-11e6-9a41-93e812345678"})
	log.InfoContext(ctx, "in an invocation", "privacy_request_id", "pri_1")
	log.InfoContext(context.Background(), "at cold start")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	var in, out map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &in); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &out); err != nil {
		t.Fatal(err)
	}
	if in["aws_request_id"] != "c6af9ac6-7b61-11e6-9a41-93e812345678" || in["function"] != "DispatcherFunction" || in["privacy_request_id"] != "pri_1" {
		t.Errorf("invocation line %v", in)
	}
	if _, ok := out["aws_request_id"]; ok {
		t.Errorf("cold-start line %v has a request id", out)
	}
}
