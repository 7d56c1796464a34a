// Package local runs the whole system on one machine without Docker or an
// AWS account: moto for the AWS services, the template's resources on it, the
// API behind a local gateway and local pollers standing in for Lambda's event
// source mappings. `make run` and the end-to-end tests both start it.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/infra/apidocs"
	"github.com/pregate/pregate/infra/gateway"
	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/adminapi"
	"github.com/pregate/pregate/internal/app/publicapi"
	"github.com/pregate/pregate/internal/app/reconciler"
	"github.com/pregate/pregate/internal/app/streamfn"
	"github.com/pregate/pregate/internal/awsenv"
	"github.com/pregate/pregate/internal/config"
	"github.com/pregate/pregate/internal/localauth"
	"github.com/pregate/pregate/internal/metrics"
	"github.com/pregate/pregate/internal/schedule"
)

// Options configure a local system.
type Options struct {
	Root string // repository root (holds template.yaml and infra/moto)
	Addr string // listen address, e.g. 127.0.0.1:3000; port 0 picks one
	// Endpoint, when set, is an AWS endpoint to use instead of starting moto.
	Endpoint string
	// ProductEndpoint, when set, is the AWS endpoint of the gate's own
	// functions (make soak: a fault injector in front of Endpoint). The
	// stack's provisioning, the pollers standing in for Lambda's event
	// sources and System.AWS keep using Endpoint.
	ProductEndpoint string
	// Prefix names the provisioned resources: "pregate-local" on a moto of
	// its own; on a shared Endpoint, by default a fresh one per system, so
	// that several systems (tests run in parallel) never share a table.
	Prefix string
	// Env overrides the local defaults (and the template's values) per variable.
	Env map[string]string
	Log *slog.Logger
	// Metrics receives the functions' EMF metric lines (in Lambda they go to
	// stdout with the logs); none are kept when nil.
	Metrics io.Writer
	// MotoLog receives the emulator's own output.
	MotoLog io.Writer
	// DispatchPollers is how many batches the dispatcher handles at once (1 when 0).
	DispatchPollers int
	// AWSOptions change the system's aws.Config after the stack is
	// provisioned (make bench adds an SDK middleware that counts calls).
	AWSOptions []func(*aws.Config)
	// Invoked, when set, is told the duration of each handler invocation,
	// as Lambda would bill it (make bench prices Lambda time with it).
	Invoked func(function string, took time.Duration)
	// Resolver, when set, looks up validator hosts instead of the system's
	// DNS (tests: DNS rebinding through the SSRF guard).
	Resolver *net.Resolver
	// Instances, when set, start fresh handler instances as Lambda does
	// (make soak and its smoke run); see Instances.
	Instances *Instances
}

// LocalDefaults are the settings of `make run`.
var LocalDefaults = map[string]string{
	"REQUIRE_MANUAL_REQUEST_APPROVAL": "true",
	"ALLOW_INSECURE_WEBHOOK_URLS":     "true",
	"WEBHOOK_BACKOFF":                 "1s",
	"WEBHOOK_MAX_ATTEMPTS":            "3",
	// Locally a config change (a rotated signing secret, new secrets) takes
	// effect at the next batch; in AWS the dispatcher caches it for 30 s.
	"DISPATCH_CONFIG_TTL": "0s",
	// The admin console signs in with the local issuer (its login page),
	// on this origin, as it does with Cognito's managed login in AWS.
	"CONSOLE_AUTHORIZE_URL": "/api/v1/oauth/authorize",
	"CONSOLE_TOKEN_URL":     "/api/v1/oauth/token",
	"CONSOLE_LOGOUT_URL":    "/api/v1/oauth/logout",
	"CONSOLE_CLIENT_ID":     localauth.ConsoleClientID,
	// The reconciler (every second locally, every minute in AWS) looks at
	// a request left waiting after 1 s instead of 1 min.
	"RECONCILE_AFTER": "1s",
}

// System is a running local stack.
type System struct {
	URL   string // http://127.0.0.1:PORT (the API is under /api/v1)
	Stack *stack.Stack
	AWS   aws.Config
	// ProductAWS is what the functions use: AWS, or Options.ProductEndpoint.
	ProductAWS aws.Config
	Config     config.Config
	// Auth issues and verifies the local admin tokens.
	Auth       *localauth.Server
	moto       *stack.Moto
	server     *http.Server
	dispatcher *restartable
	stream     *StreamPoller
	// scheduled invokes the ReconcilerFunction as its schedules do;
	// digestEvent is the input of its DailyDigest schedule (template.yaml).
	scheduled   handler[schedule.Event, struct{}]
	digestEvent schedule.Event
	stopping    []func()
	// coldStarts counts fresh instances (ColdStarts); instanceSeed and
	// streams feed the dice of Options.Instances.
	coldStarts   atomic.Int64
	instanceSeed uint64
	streams      uint64
}

// StreamIteratorAge is how far the stream poller is behind the requests
// table's writes (StreamPoller.IteratorAge).
func (s *System) StreamIteratorAge() time.Duration {
	if s.stream == nil {
		return 0
	}
	return s.stream.IteratorAge()
}

// Start brings everything up; Stop tears it down.
func Start(ctx context.Context, opts Options) (sys *System, err error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if opts.Metrics == nil {
		opts.Metrics = io.Discard
	}
	sys = &System{}
	if opts.Instances != nil {
		sys.instanceSeed = opts.Instances.Seed
	}
	defer func() {
		if err != nil {
			sys.Stop()
		}
	}()
	tmpl, err := stack.LoadTemplate(opts.Root + "/template.yaml")
	if err != nil {
		return nil, err
	}
	endpoint := opts.Endpoint
	if endpoint == "" {
		sys.moto, err = stack.StartMoto(ctx, opts.Root, stack.MotoOptions{Log: opts.MotoLog})
		if err != nil {
			return nil, err
		}
		endpoint = sys.moto.Endpoint
	}
	sys.AWS = awsenv.Emulator(endpoint)
	prefix := opts.Prefix
	switch {
	case prefix != "":
	case opts.Endpoint == "":
		prefix = "pregate-local"
	default:
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		prefix = "pregate-local-" + hex.EncodeToString(b)
	}
	sys.Stack, err = stack.Provision(ctx, sys.AWS, tmpl, prefix)
	if err != nil {
		return nil, err
	}
	for _, o := range opts.AWSOptions {
		o(&sys.AWS)
	}
	sys.ProductAWS = sys.AWS
	if opts.ProductEndpoint != "" {
		sys.ProductAWS = awsenv.Emulator(opts.ProductEndpoint)
		for _, o := range opts.AWSOptions {
			o(&sys.ProductAWS)
		}
	}

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", opts.Addr, err)
	}
	sys.URL = "http://" + ln.Addr().String()

	overrides := map[string]string{"PUBLIC_BASE_URL": sys.URL + "/api/v1"}
	for k, v := range LocalDefaults {
		overrides[k] = v
	}
	for k, v := range opts.Env {
		overrides[k] = v
	}
	deps := func(function string) (app.Deps, error) {
		env, err := sys.Stack.FunctionEnv(function, overrides)
		if err != nil {
			return app.Deps{}, err
		}
		cfg, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			return app.Deps{}, fmt.Errorf("%s: %w", function, err)
		}
		sys.Config = cfg
		return app.Deps{Config: cfg, AWS: sys.ProductAWS, Log: opts.Log.With("function", function), Now: time.Now,
			Metrics: metrics.New(opts.Metrics, cfg.MetricsNamespace, time.Now), Resolver: opts.Resolver}, nil
	}

	if err := sys.startDispatcher(ctx, deps, opts); err != nil {
		return nil, err
	}
	publicDeps, err := deps("PublicApiFunction")
	if err != nil {
		return nil, err
	}
	if err := verifySender(ctx, sys.AWS, publicDeps.Config.VerificationSenderEmail); err != nil {
		return nil, err
	}
	public, err := instance(sys, opts, "PublicApiFunction", func(ctx context.Context) (handler[events.APIGatewayV2HTTPRequest, events.APIGatewayV2HTTPResponse], error) {
		api, err := publicapi.New(ctx, publicDeps)
		if err != nil {
			return nil, err
		}
		return api.Handle, nil
	})
	if err != nil {
		return nil, err
	}
	adminDeps, err := deps("AdminApiFunction")
	if err != nil {
		return nil, err
	}
	admin, err := instance(sys, opts, "AdminApiFunction", func(ctx context.Context) (handler[events.APIGatewayV2HTTPRequest, events.APIGatewayV2HTTPResponse], error) {
		api, err := adminapi.New(ctx, adminDeps)
		if err != nil {
			return nil, err
		}
		return api.Handle, nil
	})
	if err != nil {
		return nil, err
	}
	routes, err := tmpl.Routes()
	if err != nil {
		return nil, err
	}
	sys.Auth, err = localauth.New(localauth.RootClient(func(k string) string { return overrides[k] }), time.Now)
	if err != nil {
		return nil, err
	}
	sys.Auth.WithUser(localauth.LocalUser(func(k string) string { return overrides[k] }))
	gw, err := gateway.New(routes, map[string]gateway.LambdaHandler{
		"PublicApiFunction": gateway.LambdaHandler(timed(opts, "PublicApiFunction", public)),
		"AdminApiFunction":  gateway.LambdaHandler(timed(opts, "AdminApiFunction", admin)),
	}, sys.Auth, opts.Log)
	if err != nil {
		return nil, err
	}
	gw.HandleLocal(http.MethodPost, "/api/v1/oauth/token", sys.Auth.TokenHandler())
	gw.HandleLocal(http.MethodGet, "/api/v1/oauth/authorize", sys.Auth.AuthorizeHandler())
	gw.HandleLocal(http.MethodPost, "/api/v1/oauth/authorize", sys.Auth.AuthorizeHandler())
	gw.HandleLocal(http.MethodGet, "/api/v1/oauth/logout", sys.Auth.LogoutHandler())
	if err := apidocs.Register(gw.HandleLocal); err != nil {
		return nil, err
	}
	gw.HandleLocal(http.MethodGet, "/api/v1/local/outbox", sys.outboxHandler())
	gw.HandleLocal(http.MethodGet, "/api/v1/local/notifications", sys.notificationsHandler())
	if err := sys.startStreamPoller(tmpl, deps, opts); err != nil {
		return nil, err
	}
	if err := sys.startReconciler(tmpl, deps, opts); err != nil {
		return nil, err
	}
	sys.server = &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := sys.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			opts.Log.Error("local gateway stopped", "error", err.Error())
		}
	}()
	return sys, nil
}

// Stop ends the gateway, the pollers and the emulator.
func (s *System) Stop() {
	if s == nil {
		return
	}
	for i := len(s.stopping) - 1; i >= 0; i-- {
		s.stopping[i]()
	}
	if s.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.server.Shutdown(ctx)
		cancel()
	}
	s.moto.Stop()
}

// Describe is the start-up banner `make run` prints.
func (s *System) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "API:      %s/api/v1 (try: curl %s/api/v1/health)\n", s.URL, s.URL)
	root := s.Auth.Root()
	fmt.Fprintf(&b, "Admin:    POST %s/api/v1/oauth/token client_id=%s client_secret=%s\n", s.URL, root.ID, root.Secret)
	user := s.Auth.User()
	fmt.Fprintf(&b, "Console:  %s/admin/ (user %s, password %s)\n", s.URL, user.Name, user.Password)
	if s.Config.IdentityVerificationRequired {
		fmt.Fprintf(&b, "Outbox:   GET %s/api/v1/local/outbox (verification mails, also printed here)\n", s.URL)
	}
	fmt.Fprintf(&b, "Notices:  GET %s/api/v1/local/notifications (what the admins' notification topic received)\n", s.URL)
	fmt.Fprintf(&b, "Emulator: %s\n", aws.ToString(s.AWS.BaseEndpoint))
	ids := make([]string, 0, len(s.Stack.Resources))
	for id := range s.Stack.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(&b, "  %-20s %s\n", id, s.Stack.Resources[id].Ref)
	}
	return b.String()
}

// Root finds the repository root from the working directory.
func Root() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return stack.FindRoot(wd)
}

// startStreamPoller plays the StreamFunction's event source mapping: the
// requests table's stream, through the template's FilterCriteria, into the
// real stream handler.
func (s *System) startStreamPoller(tmpl *stack.Template, deps func(string) (app.Deps, error), opts Options) error {
	d, err := deps("StreamFunction")
	if err != nil {
		return err
	}
	h, err := instance(s, opts, "StreamFunction", func(ctx context.Context) (handler[events.DynamoDBEvent, events.DynamoDBEventResponse], error) {
		fn, err := streamfn.New(ctx, d)
		if err != nil {
			return nil, err
		}
		return fn.Handle, nil
	})
	if err != nil {
		return err
	}
	filters, err := tmpl.StreamFilters("StreamFunction", "RequestsStream")
	if err != nil {
		return err
	}
	parallel := tmpl.StreamParallelization("StreamFunction", "RequestsStream")
	p := &StreamPoller{
		Streams: dynamodbstreams.NewFromConfig(s.AWS), StreamARN: s.Stack.Resources["RequestsTable"].Attrs["StreamArn"],
		Handler: timed(opts, "StreamFunction", h), BatchSize: 100, MaxRetries: 10, Filters: filters, Parallel: parallel,
		FailureQueue: s.Stack.Resources["StreamFailureQueue"].Ref, SQS: sqs.NewFromConfig(s.AWS),
		Log: opts.Log.With("poller", "RequestsStream"), Idle: 200 * time.Millisecond,
	}
	s.stream = p
	s.runInBackground(p.Run)
	return nil
}

// startReconciler plays the ReconcilerFunction's schedule. AWS
// runs it every minute; locally it runs every second, or at a quarter of
// the deadline (between 100ms and 1m) when one is set, so that short
// deadlines and the approval of complete requests can be tried out.
func (s *System) startReconciler(tmpl *stack.Template, deps func(string) (app.Deps, error), opts Options) error {
	d, err := deps("ReconcilerFunction")
	if err != nil {
		return err
	}
	input := fmt.Sprint(stack.Dig(tmpl.Resources["ReconcilerFunction"].Properties, "Events", "DailyDigest", "Properties", "Input"))
	if err := json.Unmarshal([]byte(input), &s.digestEvent); err != nil || !s.digestEvent.Digest {
		return fmt.Errorf("ReconcilerFunction's DailyDigest schedule: input %q is not the digest's event (%v)", input, err)
	}
	run, err := instance(s, opts, "ReconcilerFunction", func(ctx context.Context) (handler[schedule.Event, struct{}], error) {
		h, err := reconciler.New(ctx, d)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, ev schedule.Event) (struct{}, error) {
			return struct{}{}, h.Handle(ctx, ev)
		}, nil
	})
	if err != nil {
		return err
	}
	s.scheduled = run
	every := time.Second
	if d.Config.ReviewDeadline > 0 {
		every = min(max(d.Config.ReviewDeadline/4, 100*time.Millisecond), time.Minute)
	}
	s.runInBackground(func(ctx context.Context) {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				_, _ = run(ctx, schedule.Event{EventBridgeEvent: events.EventBridgeEvent{Source: "aws.events", DetailType: "Scheduled Event"}}) // the handler logs its failures
			}
		}
	})
	return nil
}

// RunDailyDigest plays the DailyDigest schedule once (AWS runs it at 08:00
// UTC): the reconciler function invoked with that schedule's input.
func (s *System) RunDailyDigest(ctx context.Context) error {
	_, err := s.scheduled(ctx, s.digestEvent)
	return err
}

// runInBackground runs fn until Stop, which waits for it to return.
func (s *System) runInBackground(fn func(context.Context)) *restartable {
	r := &restartable{run: fn}
	r.start()
	s.stopping = append(s.stopping, r.stop)
	return r
}

// timed reports each call of a handler to opts.Invoked, when set.
func timed[E, R any](opts Options, function string, h func(context.Context, E) (R, error)) func(context.Context, E) (R, error) {
	if opts.Invoked == nil {
		return h
	}
	return func(ctx context.Context, ev E) (R, error) {
		start := time.Now()
		defer func() { opts.Invoked(function, time.Since(start)) }()
		return h(ctx, ev)
	}
}
