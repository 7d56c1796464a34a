// Package pipeline runs one auto-approved privacy request through every
// handler of the system in one process: the public API's submit route, the
// stream function, the dispatcher and the reply route, with the AWS services
// replaced by in-memory fakes of the domain's ports. make bench measures our
// own CPU per request with it (cpu_us_per_request_m3).
package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/dispatch"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/httpapi"
	"github.com/pregate/pregate/internal/keys"
	"github.com/pregate/pregate/internal/metrics"
	"github.com/pregate/pregate/internal/queue"
	"github.com/pregate/pregate/internal/stream"
	"github.com/pregate/pregate/internal/webhook"
)

// Pipeline is the system's handlers wired to in-memory fakes, with M webhooks.
type Pipeline struct {
	store      *memStore
	public     *httpapi.API
	stream     *stream.Handler
	dispatcher *dispatch.Handler
	queue      *memQueue
	caller     *instantCaller
	approved   int
	cpu        time.Duration // user+system CPU time spent in invocations
	// filters are the template's FilterCriteria of the stream function:
	// records they drop never invoke it in AWS, so they cost us nothing.
	filters []stack.FilterPattern
}

// New builds a pipeline with m webhooks, every handler logging as in Lambda
// (JSON) but to io.Discard.
func New(m int) (*Pipeline, error) {
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
	p := &Pipeline{store: newMemStore(), queue: &memQueue{}, caller: &instantCaller{}}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	root, err := stack.FindRoot(wd)
	if err != nil {
		return nil, err
	}
	tmpl, err := stack.LoadTemplate(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	if p.filters, err = tmpl.StreamFilters("StreamFunction", "RequestsStream"); err != nil {
		return nil, err
	}
	hooks := make(webhooks, m)
	for i := range hooks {
		key := "bench" + strconv.Itoa(i)
		hooks[i] = gate.Webhook{Key: key, Name: "Bench " + key, ConnectionKey: key}
	}
	reqs := &gate.Requests{Store: p.store, Webhooks: hooks, RequireManualApproval: true, Now: time.Now, NewID: gate.NewRequestID, Log: log}
	replies := &gate.Replies{Store: p.store, Webhooks: hooks, Tokens: tokens, Now: time.Now, Log: log}
	emf := metrics.New(io.Discard, "Pregate/bench", time.Now)
	p.public = httpapi.New(log, "", httpapi.HealthRoutes(), httpapi.PublicRequestRoutes(reqs), httpapi.ReplyRoutes(replies, emf))
	p.stream = &stream.Handler{Log: log, Steps: []stream.RecordHandler{
		&stream.Deliveries{Queue: p.queue, Log: log},
		&stream.Approved{Queue: approvedCounter{&p.approved}, Store: p.store, Log: log},
		&stream.Decisions{Metrics: emf},
	}}
	signing, err := webhook.NewSigningSecret()
	if err != nil {
		return nil, err
	}
	p.dispatcher = &dispatch.Handler{
		Deliveries: &gate.Dispatcher{
			Store: p.store, Targets: targets{hooks: hooks, secret: signing}, Tokens: tokens, Caller: p.caller,
			Sign: webhook.Sign, BaseURL: "https://gate.example.com/api/v1", MaxAttempts: 5, Backoff: 5 * time.Second,
			Now: time.Now, Log: log,
		},
		SQS: visibility{}, QueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/dispatch", Log: log, Metrics: emf,
	}
	return p, nil
}

// Approved is how many approved-queue messages the stream function published.
func (p *Pipeline) Approved() int { return p.approved }

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
	msgs := p.queue.take()
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
	records, err := p.store.drain()
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

// memQueue is the dispatch queue: deliveries become SQS messages as the
// queue adapter would send them.
type memQueue struct {
	mu   sync.Mutex
	msgs []events.SQSMessage
	seq  int
}

func (q *memQueue) EnqueueDeliveries(_ context.Context, ds []gate.Delivery) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, d := range ds {
		body, err := json.Marshal(queue.DeliveryBody{DeliveryID: d.ID, PrivacyRequestID: d.PrivacyRequestID, WebhookKey: d.WebhookKey})
		if err != nil {
			return err
		}
		q.seq++
		q.msgs = append(q.msgs, events.SQSMessage{
			MessageId: strconv.Itoa(q.seq), ReceiptHandle: "rh-" + strconv.Itoa(q.seq), Body: string(body),
			Attributes: map[string]string{"ApproximateReceiveCount": "1"}, EventSource: "aws:sqs",
		})
	}
	return nil
}

func (q *memQueue) take() []events.SQSMessage {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.msgs
	q.msgs = nil
	return out
}

type approvedCounter struct{ n *int }

func (a approvedCounter) PublishApproved(context.Context, gate.ApprovedMessage) error {
	*a.n++
	return nil
}

// visibility is the dispatcher's SQS client; an instant validator never
// makes it retry, so a call here is a failure of the run.
type visibility struct{}

func (visibility) ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	return nil, fmt.Errorf("pipeline: a delivery was retried")
}

func (visibility) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return nil, fmt.Errorf("pipeline: a delivery was retried")
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

// CPUPerRequest runs n requests with m webhooks after a warm-up and returns
// the user+system CPU time per request spent in the invocations.
func CPUPerRequest(m, n int) (time.Duration, error) {
	p, err := New(m)
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	for i := 0; i < 50; i++ {
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
	if p.Approved() != n+50 {
		return 0, fmt.Errorf("pipeline: %d approvals published for %d requests", p.Approved(), n+50)
	}
	return p.cpu / time.Duration(n), nil
}

// cpuTime is the process's user+system CPU time so far (getrusage).
func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
