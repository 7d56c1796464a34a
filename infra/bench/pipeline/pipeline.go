// Package pipeline runs one auto-approved privacy request through every
// handler of the system in one process: the public API's submit route, the
// stream function, the dispatcher and the reply route, with the real
// DynamoDB and SQS adapters through the AWS SDK and its HTTP client, against
// an emulator. make bench measures our own CPU per request with it
// (cpu_us_per_request_m3): the emulator runs in a process of its own, so
// its work is not counted, while the SDK's marshalling and HTTP are.
package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dispatch"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/httpapi"
	"github.com/pregate/pregate/internal/keys"
	"github.com/pregate/pregate/internal/metrics"
	"github.com/pregate/pregate/internal/queue"
	"github.com/pregate/pregate/internal/stream"
	"github.com/pregate/pregate/internal/webhook"
)

// Pipeline is the system's handlers wired to the real adapters on an
// emulator, with M webhooks.
type Pipeline struct {
	public     *httpapi.API
	stream     *stream.Handler
	dispatcher *dispatch.Handler
	records    *awstest.StreamReader
	sqs        *sqs.Client
	dispatchQ  string
	caller     *instantCaller
	approved   *countingPublisher
	cpu        time.Duration // user+system CPU time spent in invocations
	// filters are the template's FilterCriteria of the stream function:
	// records they drop never invoke it in AWS, so they cost us nothing.
	filters []stack.FilterPattern
}

// New builds a pipeline with m webhooks on the stack st (provisioned from
// tmpl on the emulator cfg reaches), every handler logging as in Lambda
// (JSON) but to io.Discard. The webhook configuration and the delivery
// targets are in memory: their reads are cached by warm functions.
func New(ctx context.Context, cfg aws.Config, tmpl *stack.Template, st *stack.Stack, m int) (*Pipeline, error) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	ksJSON, err := keys.GenerateKeySetJSON("bench")
	if err != nil {
		return nil, err
	}
	ks, err := keys.ParseKeySet(ksJSON)
	if err != nil {
		return nil, err
	}
	tokens := keys.NewTokens(ks, 60*time.Hour, time.Now)
	db, sqsClient := dynamodb.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	store := dynamo.NewRequestStore(db, st.Resources["RequestsTable"].Ref)
	deliveryLog := dynamo.NewDeliveryLog(db, st.Resources["DeliveryLogTable"].Ref)
	p := &Pipeline{records: awstest.NewStreamReader(cfg, st), sqs: sqsClient, dispatchQ: st.Resources["DispatchQueue"].Ref,
		caller: &instantCaller{}, approved: &countingPublisher{q: queue.NewApprovedQueue(sqsClient, st.Resources["ApprovedQueue"].Ref)}}
	if p.filters, err = tmpl.StreamFilters("StreamFunction", "RequestsStream"); err != nil {
		return nil, err
	}
	hooks := make(webhooks, m)
	for i := range hooks {
		key := "bench" + strconv.Itoa(i)
		hooks[i] = gate.Webhook{Key: key, Name: "Bench " + key, ConnectionKey: key, Mode: gate.ModeEnforce}
	}
	reqs := &gate.Requests{Store: store, Webhooks: hooks, RequireManualApproval: true, Now: time.Now, NewID: gate.NewRequestID, Log: log}
	replies := &gate.Replies{Store: store, Webhooks: hooks, Tokens: tokens, Attempts: deliveryLog, Now: time.Now, Log: log}
	emf := metrics.New(io.Discard, "Pregate/bench", time.Now)
	p.public = httpapi.New(log, "", httpapi.HealthRoutes(), httpapi.PublicRequestRoutes(reqs), httpapi.ReplyRoutes(replies, emf))
	p.stream = &stream.Handler{Log: log, Steps: []stream.RecordHandler{
		&stream.Deliveries{Queue: queue.NewDispatchQueue(sqsClient, p.dispatchQ), Log: log},
		&stream.Approved{Queue: p.approved, Store: store, Log: log},
		&stream.Decisions{Metrics: emf},
	}}
	signing, err := webhook.NewSigningSecret()
	if err != nil {
		return nil, err
	}
	p.dispatcher = &dispatch.Handler{
		Deliveries: &gate.Dispatcher{
			Store: store, Targets: targets{hooks: hooks, secret: signing}, Tokens: tokens, Caller: p.caller, Attempts: deliveryLog,
			Sign: webhook.Sign, BaseURL: "https://gate.example.com/api/v1", MaxAttempts: 5, Backoff: 5 * time.Second,
			Now: time.Now, Log: log,
		},
		SQS: sqsClient, QueueURL: p.dispatchQ, Log: log, Metrics: emf,
	}
	return p, nil
}

// Approved is how many approved-queue messages the stream function published.
func (p *Pipeline) Approved() int { return int(p.approved.n.Load()) }

// Request takes one request from submission to approval: submit, the stream
// batch that enqueues its deliveries, one dispatcher batch calling every
// validator, each validator's eligible reply, and the stream batch that
// publishes the approval. Every invocation's event and response go through
// JSON as the Lambda runtime does.
func (p *Pipeline) Request(ctx context.Context, n int) error {
	resp, err := invoke(ctx, p, p.public.Handle, submitEvent(n))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("submit: %d %s", resp.StatusCode, resp.Body)
	}
	if err := p.streamBatch(ctx); err != nil {
		return err
	}
	msgs, err := p.deliveries(ctx)
	if err != nil {
		return err
	}
	if _, err := invoke(ctx, p, p.dispatcher.Handle, events.SQSEvent{Records: msgs}); err != nil {
		return err
	}
	for _, call := range p.caller.take() {
		resp, err := invoke(ctx, p, p.public.Handle, replyEvent(call))
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("reply: %d %s", resp.StatusCode, resp.Body)
		}
	}
	return p.streamBatch(ctx)
}

func (p *Pipeline) streamBatch(ctx context.Context) error {
	records, err := p.records.Read(ctx)
	if err != nil {
		return err
	}
	records = stack.KeepMatching(p.filters, records)
	if len(records) == 0 {
		return nil
	}
	resp, err := invoke(ctx, p, p.stream.Handle, events.DynamoDBEvent{Records: records})
	if err == nil && len(resp.BatchItemFailures) > 0 {
		err = fmt.Errorf("stream batch failed at %s", resp.BatchItemFailures[0].ItemIdentifier)
	}
	return err
}

// invoke does what the Lambda runtime does around a handler: decode the
// event from JSON, call, encode the response; the CPU time of that (the
// process's, so the handler's goroutines and the garbage collector count
// too) is added to p.cpu.
func invoke[E, R any](ctx context.Context, p *Pipeline, h func(context.Context, E) (R, error), ev E) (R, error) {
	var zero R
	raw, err := json.Marshal(ev)
	if err != nil {
		return zero, err
	}
	start, err := cpuTime()
	if err != nil {
		return zero, err
	}
	defer func() {
		if end, err := cpuTime(); err == nil {
			p.cpu += end - start
		}
	}()
	var decoded E
	if err := json.Unmarshal(raw, &decoded); err != nil {
		return zero, err
	}
	resp, err := h(ctx, decoded)
	if err != nil {
		return zero, err
	}
	_, err = json.Marshal(resp)
	return resp, err
}

func submitEvent(n int) events.APIGatewayV2HTTPRequest {
	body := fmt.Sprintf(`[{"identity":{"email":"bench%d@example.com"},"policy_key":"default_access_policy"}]`, n)
	return apiEvent("POST /api/v1/privacy-request", "/api/v1/privacy-request", body, nil, nil)
}

func replyEvent(c call) events.APIGatewayV2HTTPRequest {
	path := "/api/v1" + c.header.Get("reply-to-eligible")
	return apiEvent("POST /api/v1/privacy-request/{id}/pre-approve/eligible", path, "{}",
		map[string]string{"id": c.requestID}, map[string]string{"authorization": "Bearer " + c.header.Get("reply-to-token")})
}

func apiEvent(routeKey, path, body string, params, headers map[string]string) events.APIGatewayV2HTTPRequest {
	h := map[string]string{"content-type": "application/json"}
	for k, v := range headers {
		h[k] = v
	}
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: routeKey, RawPath: path, Body: body, Headers: h, PathParameters: params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: routeKey, Stage: "$default", RequestID: "bench",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodPost, Path: path, SourceIP: "192.0.2.1"},
		},
	}
}

// webhooks is the configured webhook set.
type webhooks []gate.Webhook

func (w webhooks) ListWebhooks(context.Context) (gate.WebhookConfig, error) {
	return gate.WebhookConfig{Version: 1, Webhooks: w}, nil
}

func (w webhooks) WebhooksSince(context.Context, int64) ([]gate.Webhook, error) { return w, nil }

// targets opens every webhook's delivery target without KMS: the secrets
// are in memory already.
type targets struct {
	hooks  webhooks
	secret string
}

func (t targets) DeliveryTargets(_ context.Context, keys []string) map[string]gate.TargetResult {
	out := make(map[string]gate.TargetResult, len(keys))
	for _, key := range keys {
		out[key] = gate.TargetResult{Err: &gate.NotFoundError{Msg: "no webhook " + key}}
		for _, h := range t.hooks {
			if h.Key == key {
				out[key] = gate.TargetResult{Target: gate.DeliveryTarget{Webhook: h, URL: "https://validator.example.com/" + key,
					Authorization: "Bearer bench", SigningSecrets: []string{t.secret}}}
			}
		}
	}
	return out
}

// deliveries receives the dispatch queue's messages as Lambda's event
// source hands them to the dispatcher (outside the measured invocations),
// and deletes them as it would after a successful batch.
func (p *Pipeline) deliveries(ctx context.Context) ([]events.SQSMessage, error) {
	out, err := p.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &p.dispatchQ, MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
	if err != nil {
		return nil, err
	}
	msgs := make([]events.SQSMessage, len(out.Messages))
	var done []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range out.Messages {
		msgs[i] = events.SQSMessage{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSource: "aws:sqs"}
		done = append(done, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
	}
	if len(done) > 0 {
		if _, err := p.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &p.dispatchQ, Entries: done}); err != nil {
			return nil, err
		}
	}
	return msgs, nil
}

// countingPublisher sends approvals to the approved queue and counts them.
type countingPublisher struct {
	q *queue.ApprovedQueue
	n atomic.Int64
}

func (c *countingPublisher) PublishApproved(ctx context.Context, m gate.ApprovedMessage) error {
	if err := c.q.PublishApproved(ctx, m); err != nil {
		return err
	}
	c.n.Add(1)
	return nil
}

// call is one validator call, kept for the reply.
type call struct {
	requestID string
	header    http.Header
}

// instantCaller is a validator that accepts every call (202); its reply
// is sent by Request after the dispatcher batch.
type instantCaller struct {
	mu    sync.Mutex
	calls []call
}

func (c *instantCaller) Call(_ context.Context, _ string, header http.Header, _ []byte) gate.CallResult {
	// reply-to-eligible is "/privacy-request/<id>/pre-approve/eligible".
	id := strings.Split(header.Get("reply-to-eligible"), "/")[2]
	c.mu.Lock()
	c.calls = append(c.calls, call{requestID: id, header: header})
	c.mu.Unlock()
	return gate.CallResult{StatusCode: http.StatusAccepted, OK: true}
}

func (c *instantCaller) take() []call {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

// CPUPerRequest runs n requests with m webhooks on the stack st after a
// warm-up and returns the user+system CPU time per request spent in the
// invocations, with the Go runtime settings (GOMAXPROCS, GOGC) the template
// gives the functions.
func CPUPerRequest(ctx context.Context, cfg aws.Config, tmpl *stack.Template, st *stack.Stack, m, n int) (time.Duration, error) {
	rt, err := FunctionRuntime(tmpl)
	if err != nil {
		return 0, err
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(rt.Procs))
	defer debug.SetGCPercent(debug.SetGCPercent(rt.GCPercent))
	p, err := New(ctx, cfg, tmpl, st, m)
	if err != nil {
		return 0, err
	}
	const warmUp = 10
	for i := 0; i < warmUp; i++ {
		if err := p.Request(ctx, i); err != nil {
			return 0, err
		}
	}
	p.cpu = 0
	for i := 0; i < n; i++ {
		if err := p.Request(ctx, i); err != nil {
			return 0, err
		}
	}
	if p.Approved() != n+warmUp {
		return 0, fmt.Errorf("pipeline: %d approvals published for %d requests", p.Approved(), n+warmUp)
	}
	return p.cpu / time.Duration(n), nil
}

// measuredFunctions are the functions whose handlers the pipeline runs.
var measuredFunctions = []string{"PublicApiFunction", "StreamFunction", "DispatcherFunction"}

// Runtime is the Go runtime's settings of a function that change its CPU.
// GOMEMLIMIT is not among them: it acts near the memory limit, which the
// measured requests stay far from.
type Runtime struct {
	Procs     int // GOMAXPROCS
	GCPercent int // GOGC
}

// FunctionRuntime is the Runtime the template gives the measured functions
// (they must agree: they share this process); a setting it does not give is
// this process's.
func FunctionRuntime(tmpl *stack.Template) (Runtime, error) {
	procs, err := sharedSetting(tmpl, "GOMAXPROCS", runtime.GOMAXPROCS(0))
	if err != nil {
		return Runtime{}, err
	}
	current := debug.SetGCPercent(100)
	debug.SetGCPercent(current)
	gc, err := sharedSetting(tmpl, "GOGC", current)
	return Runtime{Procs: procs, GCPercent: gc}, err
}

func sharedSetting(tmpl *stack.Template, name string, unset int) (int, error) {
	values := map[int]bool{}
	for _, fn := range measuredFunctions {
		n := unset
		if v, ok := tmpl.FunctionEnv(fn)[name]; ok {
			var err error
			if n, err = strconv.Atoi(fmt.Sprint(v)); err != nil || n < 1 {
				return 0, fmt.Errorf("%s: %s %v is not a positive number", fn, name, v)
			}
		}
		values[n] = true
	}
	if len(values) != 1 {
		return 0, fmt.Errorf("the functions %v have different %s (%v): one process cannot measure them", measuredFunctions, name, values)
	}
	for n := range values {
		return n, nil
	}
	return 0, nil
}

// cpuTime is the process's user+system CPU time so far (getrusage).
func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
