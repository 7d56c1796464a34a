package local

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// invocation wraps a handler so that each call carries a Lambda context with
// a fresh request id, as Lambda's runtime gives every invocation: the
// handlers' log lines then carry aws_request_id locally too. The context
// also names the function (FunctionOf), so that make bench can tell whose
// AWS calls it counts.
func invocation[E, R any](function string, h func(context.Context, E) (R, error)) func(context.Context, E) (R, error) {
	return func(ctx context.Context, ev E) (R, error) {
		ctx = context.WithValue(ctx, functionKey{}, function)
		return h(lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: newRequestID()}), ev)
	}
}

type functionKey struct{}

// FunctionOf is the logical id of the function (as in template.yaml) whose
// invocation ctx belongs to, or "" outside any invocation (the local
// pollers' own calls).
func FunctionOf(ctx context.Context) string {
	f, _ := ctx.Value(functionKey{}).(string)
	return f
}

// newRequestID is a random UUID, the shape of Lambda's request ids.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
