// Command soak is `make soak`: SOAK_REQUESTS privacy requests (5,000 by
// default) through the local system, three validators that misbehave at
// random, the dispatcher killed and restarted mid-run; then a checker reads
// every request and prints `soak: lost=N double_decided=N stuck=N`
// (docs/soak.md says what each counts). It exits 1 when lost or
// double_decided is not 0.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pregate/pregate/infra/apiclient"
	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/internal/queue"
)

// settings are read from the environment, with these defaults.
type settings struct {
	requests    int           // SOAK_REQUESTS
	concurrency int           // SOAK_CONCURRENCY: submissions in flight
	seed        uint64        // SOAK_SEED: the validators' dice
	settle      time.Duration // SOAK_SETTLE: longest wait for the system to go quiet
	outage      time.Duration // SOAK_OUTAGE: how long the dispatcher stays dead
	pollers     int           // SOAK_DISPATCH_POLLERS: dispatcher batches at once
	backlog     int           // SOAK_MAX_BACKLOG: dispatch messages before submissions pause
}

func main() {
	cfg, err := load(os.Getenv)
	if err != nil {
		fail(err)
	}
	lost, double, err := run(cfg)
	if err != nil {
		fail(err)
	}
	if lost > 0 || double > 0 {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "soak:", err)
	os.Exit(2)
}

func load(getenv func(string) string) (settings, error) {
	s := settings{requests: 5000, concurrency: 16, seed: 1, settle: 10 * time.Minute, outage: 5 * time.Second, pollers: 5, backlog: 150}
	ints := map[string]*int{"SOAK_REQUESTS": &s.requests, "SOAK_CONCURRENCY": &s.concurrency, "SOAK_DISPATCH_POLLERS": &s.pollers, "SOAK_MAX_BACKLOG": &s.backlog}
	for k, dst := range ints {
		if v := getenv(k); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return s, fmt.Errorf("%s=%q: want a positive integer", k, v)
			}
			*dst = n
		}
	}
	if v := getenv("SOAK_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return s, fmt.Errorf("SOAK_SEED=%q: %w", v, err)
		}
		s.seed = n
	}
	for k, dst := range map[string]*time.Duration{"SOAK_SETTLE": &s.settle, "SOAK_OUTAGE": &s.outage} {
		if v := getenv(k); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return s, fmt.Errorf("%s=%q: want a positive duration", k, v)
			}
			*dst = d
		}
	}
	return s, nil
}

// The gate's delivery settings for the run: short backoff so retries happen
// within it, a 1 s timeout so "too slow" validators cost little.
var gateEnv = map[string]string{"WEBHOOK_BACKOFF": "200ms", "WEBHOOK_MAX_ATTEMPTS": "3", "WEBHOOK_TIMEOUT": "1s"}

// dispatchVisibility replaces the dispatch queue's 360 s visibility timeout
// for the run: messages the killed dispatcher held come back after it, as
// they would in AWS, only sooner.
const dispatchVisibility = 20

var hooks = []string{"soak_a", "soak_b", "soak_c"}

func run(cfg settings) (lost, double int, err error) {
	began := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "soak: %6.1fs "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
	}
	root, err := local.Root()
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys, err := local.Start(ctx, local.Options{Root: root, Addr: "127.0.0.1:0", Env: gateEnv,
		Endpoint: os.Getenv("AWS_ENDPOINT_URL"), DispatchPollers: cfg.pollers})
	if err != nil {
		return 0, 0, err
	}
	defer sys.Stop()
	// Ctrl-C still stops the emulator it started.
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-interrupted
		sys.Stop()
		os.Exit(130)
	}()
	q := sqs.NewFromConfig(sys.AWS)
	dispatchURL := sys.Stack.Resources["DispatchQueue"].Ref
	if _, err := q.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &dispatchURL,
		Attributes: map[string]string{"VisibilityTimeout": strconv.Itoa(dispatchVisibility)}}); err != nil {
		return 0, 0, err
	}

	api := &apiClient{apiclient.Client{Base: sys.URL + "/api/v1", HTTP: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}}
	if err := api.Login("local-admin", "local-admin-secret"); err != nil {
		return 0, 0, err
	}
	timeout, _ := time.ParseDuration(gateEnv["WEBHOOK_TIMEOUT"])
	vals := map[string]*unruly{}
	for i, k := range hooks {
		vals[k] = newUnruly(k, cfg.seed+uint64(i), timeout)
		defer vals[k].srv.Close()
		if err := api.configure(k, vals[k].srv.URL); err != nil {
			return 0, 0, err
		}
	}
	set := []map[string]any{}
	for _, k := range hooks {
		set = append(set, map[string]any{"key": k, "name": "Soak " + k, "connection_config_key": "conn_" + k})
	}
	if err := api.Do("PUT", "/dsr/webhook/pre_approval", set, nil); err != nil {
		return 0, 0, err
	}
	logf("system up at %s; submitting %d requests, %d at a time", sys.URL, cfg.requests, cfg.concurrency)

	// Submit, killing the dispatcher when 40% are in and restarting it after the outage.
	// moto's SQS walks every message of a queue on each call, so a deep
	// dispatch queue slows every call down and deepens itself: submissions
	// wait while the backlog is over SOAK_MAX_BACKLOG.
	var depth atomic.Int64
	sampling, stopSampling := context.WithCancel(context.Background())
	defer stopSampling()
	go func() {
		for sampling.Err() == nil {
			if n, err := queueDepth(q, dispatchURL); err == nil {
				depth.Store(int64(n))
			}
			time.Sleep(time.Second)
		}
	}()
	var kill sync.Once
	var decile atomic.Int64
	ids, refused := api.submitAll(cfg, func() int { return int(depth.Load()) }, func(done int) {
		if d := int64(done * 10 / cfg.requests); d > decile.Load() && decile.CompareAndSwap(d-1, d) {
			logf("%d submitted (dispatch backlog %d)", done, depth.Load())
		}
		if done < cfg.requests*2/5 {
			return
		}
		kill.Do(func() {
			go func() {
				logf("killing the dispatcher after %d submissions", done)
				sys.StopDispatcher()
				time.Sleep(cfg.outage)
				sys.StartDispatcher()
				logf("dispatcher restarted after %s", cfg.outage)
			}()
		})
	})
	stopSampling()
	logf("submitted: %d accepted, %d refused", len(ids), refused)
	logf("emulator restart skipped: moto cannot keep its state across a restart (docs/emulator.md)")

	// Settle: no dispatch message left (visible, in flight or delayed) and
	// every validator idle for 5 s.
	deadline := time.Now().Add(cfg.settle)
	for tick := 1; ; tick++ {
		n, err := queueDepth(q, dispatchURL)
		if err != nil {
			return 0, 0, err
		}
		idle := true
		for _, v := range vals {
			idle = idle && v.idleFor(5*time.Second)
		}
		if n == 0 && idle {
			break
		}
		if time.Now().After(deadline) {
			logf("not settled after %s (%d dispatch messages left); checking anyway", cfg.settle, n)
			break
		}
		if tick%15 == 0 {
			logf("settling: %d dispatch messages left", n)
		}
		time.Sleep(2 * time.Second)
	}
	var calls int64
	for _, v := range vals {
		calls += v.calls.Load()
	}
	logf("settled: %d validator calls", calls)

	messages, err := drainApproved(q, sys.Stack.Resources["ApprovedQueue"].Ref)
	if err != nil {
		return 0, 0, err
	}
	counts := api.checkAll(ids, vals, messages)
	logf("checked %d requests: approved=%d not_eligible=%d waiting=%d; done in %s",
		len(ids), counts.status["approved"], counts.status["pre_approval_not_eligible"], counts.stuck, time.Since(began).Round(time.Second))
	for _, why := range counts.examples {
		logf("  %s", why)
	}
	fmt.Printf("soak: lost=%d double_decided=%d stuck=%d\n", counts.lost, counts.double, counts.stuck)
	return counts.lost, counts.double, nil
}

// queueDepth counts the queue's messages: visible, in flight and delayed.
func queueDepth(q *sqs.Client, url string) (int, error) {
	out, err := q.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible, types.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		return 0, fmt.Errorf("dispatch queue depth: %w", err)
	}
	n := 0
	for _, v := range out.Attributes {
		c, _ := strconv.Atoi(v)
		n += c
	}
	return n, nil
}

// drainApproved reads (and deletes) the whole approved queue: the soak is its
// only consumer. It counts the messages per request id.
func drainApproved(q *sqs.Client, url string) (map[string]int, error) {
	counts := map[string]int{}
	for empty := 0; empty < 2; {
		out, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			return nil, fmt.Errorf("read the approved queue: %w", err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		entries := []types.DeleteMessageBatchRequestEntry{}
		for i, m := range out.Messages {
			var b queue.ApprovedBody
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &b); err != nil {
				return nil, fmt.Errorf("approved message %q: %w", aws.ToString(m.Body), err)
			}
			counts[b.PrivacyRequestID]++
			entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
		if _, err := q.DeleteMessageBatch(context.Background(), &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: entries}); err != nil {
			return nil, fmt.Errorf("delete approved messages: %w", err)
		}
	}
	return counts, nil
}

// apiClient talks to the gate's API as admins and subjects do.
type apiClient struct{ apiclient.Client }

// configure creates connection conn_<key> with its secrets pointing at url.
func (c *apiClient) configure(key, url string) error {
	if err := c.Do("PATCH", "/connection", []map[string]any{{"key": "conn_" + key, "name": "Soak " + key,
		"connection_type": "https", "access": "read"}}, nil); err != nil {
		return err
	}
	return c.Do("PUT", "/connection/conn_"+key+"/secret", map[string]any{"url": url, "authorization": "Bearer soak"}, nil)
}

// submitAll submits cfg.requests requests, one per call, cfg.concurrency at
// a time, pausing while backlog() is over cfg.backlog; progress is told each
// accepted count. It returns the accepted ids and how many submissions were
// refused (never accepted, so never lost).
func (c *apiClient) submitAll(cfg settings, backlog func() int, progress func(done int)) ([]string, int) {
	var (
		mu      sync.Mutex
		ids     []string
		refused int
		next    atomic.Int64
		wg      sync.WaitGroup
	)
	for range cfg.concurrency {
		wg.Go(func() {
			for n := next.Add(1); n <= int64(cfg.requests); n = next.Add(1) {
				for backlog() > cfg.backlog {
					time.Sleep(200 * time.Millisecond)
				}
				var out struct {
					Succeeded []struct {
						ID string `json:"id"`
					} `json:"succeeded"`
				}
				err := c.Anonymous().Do("POST", "/privacy-request", []map[string]any{{"identity": map[string]string{"email": fmt.Sprintf("soak%d@example.com", n)},
					"policy_key": "default_access_policy", "external_id": fmt.Sprintf("soak-%d", n)}}, &out)
				mu.Lock()
				if err != nil || len(out.Succeeded) != 1 {
					refused++
				} else {
					ids = append(ids, out.Succeeded[0].ID)
				}
				done := len(ids)
				mu.Unlock()
				progress(done)
			}
		})
	}
	wg.Wait()
	return ids, refused
}

type tally struct {
	lost, double, stuck int
	status              map[string]int
	examples            []string // the first few lost or double-decided requests, with why
}

// checkAll reads every request and its timeline and classifies it.
func (c *apiClient) checkAll(ids []string, vals map[string]*unruly, messages map[string]int) tally {
	t := tally{status: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan string)
	for range 8 {
		wg.Go(func() {
			for id := range work {
				o := c.observe(id, vals, messages)
				v := classify(o, hooks)
				mu.Lock()
				t.status[o.Status]++
				if v.Lost {
					t.lost++
				}
				if v.DoubleDecided {
					t.double++
				}
				if v.Stuck {
					t.stuck++
				}
				if (v.Lost || v.DoubleDecided) && len(t.examples) < 10 {
					t.examples = append(t.examples, id+": "+v.Why)
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	return t
}

func (c *apiClient) observe(id string, vals map[string]*unruly, messages map[string]int) Observed {
	o := Observed{States: map[string]string{}, Accepted: map[string]Answer{}, Messages: messages[id]}
	for k, v := range vals {
		a, unsure := v.view(id)
		if a != "" {
			o.Accepted[k] = a
		}
		o.Unsure = o.Unsure || unsure
	}
	var r struct {
		Status   string `json:"status"`
		Webhooks []struct {
			Key   string `json:"key"`
			State string `json:"state"`
		} `json:"webhooks"`
	}
	var act struct {
		Items []struct {
			Action string `json:"action"`
		} `json:"items"`
	}
	if c.retry(func() error { return c.Do("GET", "/privacy-request/"+id, nil, &r) }) != nil ||
		c.retry(func() error { return c.Do("GET", "/privacy-request/"+id+"/activity", nil, &act) }) != nil {
		return o // not found, or unreadable: lost either way
	}
	o.Found, o.Status = true, r.Status
	for _, w := range r.Webhooks {
		o.States[w.Key] = w.State
	}
	for _, e := range act.Items {
		if e.Action == "approved" || e.Action == "denied" {
			o.Decisions++
		}
	}
	return o
}

// retry gives a read three tries, so a slow emulator is not taken for a lost request.
func (c *apiClient) retry(read func() error) error {
	var err error
	for range 3 {
		if err = read(); err == nil {
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return err
}
