package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pregate/pregate/infra/apiclient"
	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/awsenv"
)

// systemRun is what one run of n requests through the local system measured.
type systemRun struct {
	M, N        int
	Calls       map[string]int             // our AWS call attempts, by "Service/Operation"
	Invocations map[string][]time.Duration // handler durations, by function
	Latencies   []time.Duration            // created_at → approved timeline entry, per request
	Writes      *ledger                    // write units of the run's requests, from the stream
	Reads       reads                      // read units of the request path
	// EventSourceSQS are the SQS calls Lambda's event sources are billed for
	// (receives that got messages, deletes); LogBytes what the functions
	// logged, EMF metric lines included.
	EventSourceSQS map[string]int
	LogBytes       int64
	// ServiceLogBytes are the lines AWS writes for us: Lambda's own per
	// invocation and the HTTP API's access log per request (logModel).
	ServiceLogBytes int64
}

// runSystem starts a local system (manual approval required, the default,
// so the validators' replies approve) with m instant validators (each
// answers 202 and replies eligible at once through the reply route) and
// makes rounds runs on it: each submits n requests, at most concurrency at a
// time, and waits until each is approved and its approved-queue message sent.
func runSystem(ctx context.Context, root string, m, rounds, n, concurrency int) ([]*systemRun, error) {
	counter, invoked, meter, logs := newCallCounter(), newInvocations(), newCapacityMeter(), &byteCounter{}
	sys, err := local.Start(ctx, local.Options{
		Root: root, Addr: "127.0.0.1:0",
		AWSOptions: []func(*aws.Config){counter.install, meter.install},
		Invoked:    invoked.record,
		// Everything a function logs as deployed (LOG_LEVEL INFO) is counted
		// for CloudWatch Logs; warnings also show here.
		Log:     slog.New(countedHandler{count: slog.NewJSONHandler(logs, nil), show: slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})}),
		Metrics: logs,
		// As deployed (the template's defaults): `make run` reads config at
		// every batch so that edits show at once, and looks at a waiting
		// request after a second, which AWS does not. Here moto makes a
		// request take seconds: with a second's grace the reconciler would
		// step in on requests whose normal path is merely slow, and its
		// writes would be priced as the request's.
		Env: map[string]string{"DISPATCH_CONFIG_TTL": "30s", "RECONCILE_AFTER": "1m"},
	})
	if err != nil {
		return nil, err
	}
	defer sys.Stop()
	tmpl, err := stack.LoadTemplate(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	serviceLogs, err := newLogModel(tmpl)
	if err != nil {
		return nil, err
	}
	requestsTable, err := loadTableModel(tmpl, sys.Stack, "RequestsTable")
	if err != nil {
		return nil, err
	}
	if err := meter.setTables(sys.Stack, tmpl); err != nil {
		return nil, err
	}
	tail := &streamTail{c: dynamodbstreams.NewFromConfig(awsenv.Emulator(aws.ToString(sys.AWS.BaseEndpoint))),
		arn: sys.Stack.Resources["RequestsTable"].Attrs["StreamArn"], iters: map[string]*string{}}
	api := &apiClient{apiclient.Client{Base: sys.URL + "/api/v1", HTTP: &http.Client{Timeout: 30 * time.Second}}}
	rootClient := sys.Auth.Root()
	if err := api.Login(rootClient.ID, rootClient.Secret); err != nil {
		return nil, err
	}
	replies := newReplyTracker()
	validators := make([]*httptest.Server, m)
	for i := range validators {
		validators[i] = httptest.NewServer(instantValidator(api, replies))
		defer validators[i].Close()
	}
	if err := api.configure(validators); err != nil {
		return nil, err
	}
	// The approved queue is watched through a client of our own, so the
	// wait is not counted.
	watch := sqs.NewFromConfig(awsenv.Emulator(aws.ToString(sys.AWS.BaseEndpoint)))
	approvedQueue := sys.Stack.Resources["ApprovedQueue"].Ref
	var runs []*systemRun
	for r := 0; r < rounds; r++ {
		counter.take()
		counter.takeEventSource()
		logs.take()
		invoked.take()
		meter.take()
		if _, err := tail.read(ctx); err != nil { // earlier runs' records
			return nil, err
		}
		created, err := submitAll(ctx, api, replies, r*n, n, m, concurrency)
		if err != nil {
			return nil, err
		}
		// The last reply writes the approval; the stream function then publishes it.
		if err := waitApprovedMessages(ctx, watch, approvedQueue, (r+1)*n); err != nil {
			return nil, err
		}
		if err := waitQuiet(ctx, counter, time.Second, time.Minute); err != nil {
			return nil, err
		}
		run := &systemRun{M: m, N: n, Calls: counter.take(), EventSourceSQS: counter.takeEventSource(), LogBytes: logs.take(),
			Invocations: invoked.take(), Writes: newLedger()}
		run.ServiceLogBytes = serviceLogs.bytes(run.Invocations)
		var attempts map[string]int
		run.Reads, attempts = meter.take()
		records, err := tail.read(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the requests stream: %w", err)
		}
		ids := map[string]bool{}
		for _, c := range created {
			ids[c.ID] = true
		}
		priceWrites(run.Writes, requestsTable, records, attempts, ids)
		if run.Latencies, err = api.latencies(created, concurrency); err != nil {
			return nil, err
		}
		runs = append(runs, run)
	}
	return runs, nil
}

// submitAll submits n requests numbered from first, concurrency at a time,
// each waiting for its m replies to be taken.
func submitAll(ctx context.Context, api *apiClient, replies *replyTracker, first, n, m, concurrency int) ([]submitted, error) {
	created := make([]submitted, n)
	jobs := make(chan int)
	errs := make(chan error, concurrency)
	var wg sync.WaitGroup
	var done atomic.Int64
	progress, stop := time.NewTicker(30*time.Second), make(chan struct{})
	defer func() { progress.Stop(); close(stop) }()
	go func() {
		for {
			select {
			case <-progress.C:
				fmt.Fprintf(os.Stderr, "# M=%d: %d of %d requests approved so far\n", m, done.Load(), n)
			case <-stop:
				return
			}
		}
	}()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				s, err := api.submit(first + i)
				if err == nil {
					err = replies.wait(ctx, s.ID, m)
				}
				if err != nil {
					errs <- err
					return
				}
				created[i] = s
				done.Add(1)
			}
		}()
	}
	for i := 0; i < n; i++ {
		select {
		case jobs <- i:
		case err := <-errs:
			close(jobs)
			wg.Wait()
			return nil, err
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
		return created, nil
	}
}

// waitQuiet returns once the request path has made no call for quiet:
// stragglers (a stream batch still being handled) belong to the run. It
// gives up after within, so that a system that never settles fails the
// bench rather than hanging it.
func waitQuiet(ctx context.Context, c *callCounter, quiet, within time.Duration) error {
	deadline := time.Now().Add(within)
	last := -1
	for {
		n := c.total()
		if n == last {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the request path still made AWS calls %s after the last approval (%d so far)", within, n)
		}
		last = n
		select {
		case <-time.After(quiet):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func waitApprovedMessages(ctx context.Context, q *sqs.Client, queueURL string, n int) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &queueURL, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
		if err != nil {
			return err
		}
		got, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("approved queue holds %d messages, want %d", got, n)
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// replyTracker tells a submitter when every validator has replied for its request.
type replyTracker struct {
	mu      sync.Mutex
	replied map[string]int
	failed  map[string]error // a reply the API kept refusing
	changed chan struct{}
}

func newReplyTracker() *replyTracker {
	return &replyTracker{replied: map[string]int{}, failed: map[string]error{}, changed: make(chan struct{})}
}

// add records a reply taken (err nil) or given up on.
func (t *replyTracker) add(id string, err error) {
	t.mu.Lock()
	if err != nil {
		t.failed[id] = err
	} else {
		t.replied[id]++
	}
	close(t.changed)
	t.changed = make(chan struct{})
	t.mu.Unlock()
}

func (t *replyTracker) wait(ctx context.Context, id string, m int) error {
	timeout := time.After(5 * time.Minute)
	for {
		t.mu.Lock()
		n, failed, ch := t.replied[id], t.failed[id], t.changed
		t.mu.Unlock()
		if n >= m {
			return nil
		}
		if failed != nil {
			return fmt.Errorf("request %s: %w", id, failed)
		}
		select {
		case <-ch:
		case <-timeout:
			return fmt.Errorf("request %s: %d of %d validators replied within 5 minutes", id, n, m)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// instantValidator answers every call 202 and replies eligible right away,
// as a validator with nothing to look up would.
func instantValidator(api *apiClient, t *replyTracker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		base, path, token := r.Header.Get("reply-to-base-url"), r.Header.Get("reply-to-eligible"), r.Header.Get("reply-to-token")
		w.WriteHeader(http.StatusAccepted)
		go func() {
			var last error
			for attempt := 0; attempt < 5; attempt++ {
				if last = reply(api.HTTP, base+path, token); last == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.add(requestIDOf(path), last)
		}()
	})
}

// reply posts an eligible reply with the call's token.
func reply(c *http.Client, url, token string) error {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte("{}")))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reply refused: %d %s", resp.StatusCode, body)
	}
	return nil
}

// requestIDOf takes the id out of "/privacy-request/<id>/pre-approve/eligible".
func requestIDOf(path string) string {
	parts := strings.Split(path, "/")
	if len(parts) > 2 {
		return parts[2]
	}
	return path
}

// apiClient speaks to the local API as a subject and as an admin.
type apiClient struct{ apiclient.Client }

// configure makes one connection and one pre-approval webhook per validator.
func (c *apiClient) configure(validators []*httptest.Server) error {
	var conns, hooks []map[string]any
	for i := range validators {
		key := "bench" + strconv.Itoa(i)
		conns = append(conns, map[string]any{"key": key, "name": "Bench " + key, "connection_type": "https", "access": "read"})
		hooks = append(hooks, map[string]any{"key": key, "name": "Bench " + key, "connection_config_key": key})
	}
	if err := c.Do(http.MethodPatch, "/connection", conns, nil); err != nil {
		return err
	}
	for i, v := range validators {
		secret := map[string]any{"url": v.URL + "/validate", "authorization": "Bearer bench"}
		if err := c.Do(http.MethodPut, "/connection/bench"+strconv.Itoa(i)+"/secret", secret, nil); err != nil {
			return err
		}
	}
	return c.Do(http.MethodPut, "/dsr/webhook/pre_approval", hooks, nil)
}

type submitted struct {
	ID        string `json:"id"`
	CreatedAt string `json:"created_at"`
}

func (c *apiClient) submit(i int) (submitted, error) {
	var out struct {
		Succeeded []submitted `json:"succeeded"`
		Failed    []any       `json:"failed"`
	}
	body := []map[string]any{{"identity": map[string]string{"email": fmt.Sprintf("bench%d@example.com", i)}, "policy_key": "default_access_policy"}}
	if err := c.Anonymous().Do(http.MethodPost, "/privacy-request", body, &out); err != nil {
		return submitted{}, err
	}
	if len(out.Succeeded) != 1 {
		return submitted{}, fmt.Errorf("submit: %d succeeded, %d failed", len(out.Succeeded), len(out.Failed))
	}
	return out.Succeeded[0], nil
}

// latencies reads each request's timeline: approved entry minus created_at.
func (c *apiClient) latencies(reqs []submitted, concurrency int) ([]time.Duration, error) {
	out := make([]time.Duration, len(reqs))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		sem      = make(chan struct{}, concurrency)
	)
	for i, r := range reqs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			d, err := c.latency(r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			out[i] = d
		}()
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, firstErr
}

func (c *apiClient) latency(r submitted) (time.Duration, error) {
	created, err := time.Parse(time.RFC3339Nano, r.CreatedAt)
	if err != nil {
		return 0, fmt.Errorf("request %s: created_at %q: %w", r.ID, r.CreatedAt, err)
	}
	var page struct {
		Items []struct {
			At     string `json:"at"`
			Action string `json:"action"`
		} `json:"items"`
	}
	if err := c.Do(http.MethodGet, "/privacy-request/"+r.ID+"/activity?size=100", nil, &page); err != nil {
		return 0, err
	}
	for _, e := range page.Items {
		if e.Action == "approved" {
			at, err := time.Parse(time.RFC3339Nano, e.At)
			if err != nil {
				return 0, err
			}
			return at.Sub(created), nil
		}
	}
	return 0, fmt.Errorf("request %s has no approved entry", r.ID)
}
