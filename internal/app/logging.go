package app

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/pregate/pregate/internal/logkey"
)

// withLambdaRequestID adds the Lambda invocation's request id (aws_request_id)
// to every record logged with a context that carries one, so a handler's log
// calls need only pass ctx, and every line of one invocation shares the id
// that the HTTP API's access log gives as integrationRequestId (and Lambda's
// own lines, at the system log level that lets them through).
type withLambdaRequestID struct{ slog.Handler }

func (h withLambdaRequestID) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r.AddAttrs(slog.String(logkey.AWSRequestID, lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h withLambdaRequestID) WithAttrs(attrs []slog.Attr) slog.Handler {
	return withLambdaRequestID{h.Handler.WithAttrs(attrs)}
}

func (h withLambdaRequestID) WithGroup(name string) slog.Handler {
	return withLambdaRequestID{h.Handler.WithGroup(name)}
}
