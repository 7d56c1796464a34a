// Package app holds what every function is built from: the environment, the
// logger, the metrics, and Must, which builds a function's handler at cold
// start. Each function's wiring is a package of its own under internal/app
// (publicapi, adminapi, streamfn, dispatcher, reconciler) that builds only the
// service clients that function calls, so that a binary links and
// initializes no other: the functions' main packages and the local system
// build their handlers there, so Lambda and `make run` run the very same code.
package app

import (
	"context"
	"log"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/pregate/pregate/internal/awsenv"
	"github.com/pregate/pregate/internal/config"
	"github.com/pregate/pregate/internal/metrics"
)

// Deps is what every function is built from.
type Deps struct {
	Config config.Config
	AWS    aws.Config
	Log    *slog.Logger
	Now    func() time.Time
	// Metrics writes EMF lines; in Lambda to stdout, beside the logs.
	Metrics *metrics.Emitter
	// Resolver looks up validator hosts, both when an admin saves a URL and
	// when the dispatcher connects; nil is the system's DNS (only tests set it).
	Resolver *net.Resolver
}

// FromEnvironment reads the Lambda environment once per cold start.
func FromEnvironment(context.Context) (Deps, error) {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return Deps{}, err
	}
	awsCfg, err := awsenv.FromEnvironment(os.Getenv)
	if err != nil {
		return Deps{}, err
	}
	return Deps{Config: cfg, AWS: awsCfg, Log: NewLogger(os.Stdout, cfg.LogLevel), Now: time.Now,
		Metrics: metrics.New(os.Stdout, cfg.MetricsNamespace, time.Now)}, nil
}

// NewLogger is the JSON logger every function uses; each line logged with
// an invocation's context carries its Lambda request id (aws_request_id).
func NewLogger(w interface{ Write([]byte) (int, error) }, level slog.Leveler) *slog.Logger {
	return slog.New(withLambdaRequestID{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})})
}

// Must builds a function's handler from the environment, or stops the cold
// start with a message naming what is wrong (Lambda logs it as an init error).
func Must[T any](build func(context.Context, Deps) (T, error)) T {
	ctx := context.Background()
	deps, err := FromEnvironment(ctx)
	if err != nil {
		log.Fatalf("configuration: %v", err)
	}
	h, err := build(ctx, deps)
	if err != nil {
		log.Fatalf("start: %v", err)
	}
	return h
}
