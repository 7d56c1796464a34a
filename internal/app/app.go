// Package app wires the adapters to the domain for each function. The
// functions' main packages and the local system build their handlers here,
// so Lambda and `make run` run the very same code.
package app

import (
	"context"
	"log"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/internal/awsenv"
	"github.com/pregate/pregate/internal/config"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/email"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/httpapi"
	"github.com/pregate/pregate/internal/keys"
	"github.com/pregate/pregate/internal/metrics"
	"github.com/pregate/pregate/internal/queue"
	"github.com/pregate/pregate/internal/schedule"
	"github.com/pregate/pregate/internal/secrets"
	"github.com/pregate/pregate/internal/stream"
	"github.com/pregate/pregate/internal/webhook"
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
func FromEnvironment(ctx context.Context) (Deps, error) {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return Deps{}, err
	}
	awsCfg, err := awsenv.Load(ctx)
	if err != nil {
		return Deps{}, err
	}
	return Deps{Config: cfg, AWS: awsCfg, Log: NewLogger(os.Stdout, slog.LevelInfo), Now: time.Now,
		Metrics: metrics.New(os.Stdout, cfg.MetricsNamespace, time.Now)}, nil
}

// NewLogger is the JSON logger every function uses; each line logged with
// an invocation's context carries its Lambda request id (aws_request_id).
func NewLogger(w interface{ Write([]byte) (int, error) }, level slog.Level) *slog.Logger {
	return slog.New(withLambdaRequestID{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})})
}

// NewPublicAPI serves the public routes: health, submission, verification, replies.
func NewPublicAPI(ctx context.Context, d Deps) (*httpapi.API, error) {
	if err := config.Require("REQUESTS_TABLE", d.Config.RequestsTable, "CONFIG_TABLE", d.Config.ConfigTable, "REPLY_TOKEN_SECRET_ID", d.Config.ReplyTokenSecretID); err != nil {
		return nil, err
	}
	store := newRequestStore(d)
	reqs := newRequests(d, store)
	if d.Config.IdentityVerificationRequired {
		if err := config.Require("VERIFICATION_SENDER_EMAIL", d.Config.VerificationSenderEmail); err != nil {
			return nil, err
		}
		reqs.VerifyIdentity = true
		reqs.Codes = email.NewCodeMailer(sesv2.NewFromConfig(d.AWS), d.Config.VerificationSenderEmail, d.Config.VerificationEmailTemplate)
	}
	tokens, err := NewReplyTokens(ctx, d)
	if err != nil {
		return nil, err
	}
	replies := &gate.Replies{Store: store, Webhooks: reqs.Webhooks, Tokens: tokens, Now: d.Now, Log: d.Log}
	return httpapi.New(d.Log, d.Config.ScopePrefix, httpapi.HealthRoutes(), httpapi.PublicRequestRoutes(reqs), httpapi.ReplyRoutes(replies, d.Metrics)), nil
}

// NewReplyTokens loads the reply-token key set once per cold start; the
// dispatcher mints with it, the reply routes verify with it.
func NewReplyTokens(ctx context.Context, d Deps) (*keys.Tokens, error) {
	ks, err := keys.LoadKeySet(ctx, secretsmanager.NewFromConfig(d.AWS), d.Config.ReplyTokenSecretID)
	if err != nil {
		return nil, err
	}
	return keys.NewTokens(ks, d.Config.ReplyTokenTTL, d.Now), nil
}

// NewAdminAPI serves the admin routes.
func NewAdminAPI(_ context.Context, d Deps) (*httpapi.API, error) {
	if err := config.Require("REQUESTS_TABLE", d.Config.RequestsTable, "CONFIG_TABLE", d.Config.ConfigTable, "SECRETS_KEY_ID", d.Config.SecretsKeyID); err != nil {
		return nil, err
	}
	return httpapi.New(d.Log, d.Config.ScopePrefix, httpapi.ConfigRoutes(NewConfigAdmin(d)), httpapi.AdminRequestRoutes(newRequests(d, newRequestStore(d)))), nil
}

func newRequestStore(d Deps) *dynamo.RequestStore {
	return dynamo.NewRequestStore(dynamodb.NewFromConfig(d.AWS), d.Config.RequestsTable)
}

// NewConfigStore is the config table (connections, the webhook set); it is
// also the gate.WebhookLister that submission and replies use.
func NewConfigStore(d Deps) *dynamo.ConfigStore {
	return dynamo.NewConfigStore(dynamodb.NewFromConfig(d.AWS), d.Config.ConfigTable)
}

// NewConfigAdmin builds the connection and webhook use cases; the dispatcher
// uses its DeliveryTarget.
func NewConfigAdmin(d Deps) *gate.Admin {
	allowInsecure := d.Config.AllowInsecureWebhookURLs
	return &gate.Admin{
		Store:            NewConfigStore(d),
		Sealer:           secrets.NewKMS(kms.NewFromConfig(d.AWS), d.Config.SecretsKeyID),
		Now:              d.Now,
		NewSigningSecret: webhook.NewSigningSecret,
		CheckURL: func(ctx context.Context, url string) error {
			return webhook.CheckURL(ctx, url, allowInsecure, d.Resolver)
		},
	}
}

// newRequests builds the privacy-request use cases; the snapshot of webhooks
// comes from the config table.
func newRequests(d Deps, store *dynamo.RequestStore) *gate.Requests {
	return &gate.Requests{
		Store:                 store,
		Webhooks:              NewConfigStore(d),
		RequireManualApproval: d.Config.RequireManualApproval,
		Now:                   d.Now,
		NewID:                 gate.NewRequestID,
		Log:                   d.Log,
	}
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

// NewStreamHandler is the requests-stream function: deliveries for requests
// entering awaiting_pre_approval, and one approved-queue message per approval.
func NewStreamHandler(_ context.Context, d Deps) (*stream.Handler, error) {
	if err := config.Require("DISPATCH_QUEUE_URL", d.Config.DispatchQueueURL, "APPROVED_QUEUE_URL", d.Config.ApprovedQueueURL); err != nil {
		return nil, err
	}
	q := sqs.NewFromConfig(d.AWS)
	return &stream.Handler{Log: d.Log, Steps: []stream.RecordHandler{
		&stream.Deliveries{Queue: queue.NewDispatchQueue(q, d.Config.DispatchQueueURL), Log: d.Log},
		&stream.Approved{Queue: queue.NewApprovedQueue(q, d.Config.ApprovedQueueURL), Log: d.Log},
		&stream.Decisions{Metrics: d.Metrics},
	}}, nil
}

// NewReviewDeadlineSweep is the scheduled function that moves requests left
// awaiting pre-approval past REVIEW_DEADLINE to pending (off when unset).
func NewReviewDeadlineSweep(_ context.Context, d Deps) (*schedule.Handler, error) {
	if err := config.Require("REQUESTS_TABLE", d.Config.RequestsTable); err != nil {
		return nil, err
	}
	return &schedule.Handler{Log: d.Log, Deadlines: &gate.ReviewDeadlines{Store: newRequestStore(d), Deadline: d.Config.ReviewDeadline, Now: d.Now, Log: d.Log}}, nil
}
