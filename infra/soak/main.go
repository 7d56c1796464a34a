// Command soak is `make soak`: SOAK_REQUESTS privacy requests (5,000 by
// default) through the local system, with a fault injector between the
// gate's functions and the emulator (FAULTS: AWS's errors, throttles and
// conflicts), handler instances started fresh as Lambda starts them,
// validators that misbehave at random and reply with our Go SDK, a webhook
// on a connection without secrets, a connection whose secrets cannot be
// opened for a while, a webhook removed mid-run, the dispatcher killed and
// restarted, REVIEW_DEADLINE on; then a checker reads every request and
// prints `soak: lost=N double_decided=N stuck=N unexplained=N faults=N
// cold_starts=N throttles=N conflicts=N` (docs/internals/soak.md says what
// each counts). It exits 1 when lost, double_decided or unexplained is not
// 0, or when fewer requests were approved than should have been.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pregate/pregate/infra/apiclient"
	"github.com/pregate/pregate/infra/faults"
	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/queue"
)

// settings are read from the environment, with these defaults.
type settings struct {
	requests    int           // SOAK_REQUESTS
	concurrency int           // SOAK_CONCURRENCY: submissions in flight
	seed        uint64        // SOAK_SEED: the validators' and the injector's dice
	settle      time.Duration // SOAK_SETTLE: longest wait for the system to go quiet
	outage      time.Duration // SOAK_OUTAGE: how long the dispatcher stays dead
	pollers     int           // SOAK_DISPATCH_POLLERS: dispatcher batches at once
	backlog     int           // SOAK_MAX_BACKLOG: dispatch messages before submissions pause
	deadline    time.Duration // SOAK_REVIEW_DEADLINE: the gate's REVIEW_DEADLINE
	hang        time.Duration // SOAK_FAULT_HANG: how long an injected timeout holds a call
	fresh       float64       // SOAK_FRESH_INSTANCES: share of invocations given a fresh instance
	faults      faults.Rules  // FAULTS ("off": none)
}

// DefaultFaults are the injector's rates when FAULTS is not set: every
// operation fails now and then, writes of a request more often, the reads
// of the reply-token key set (each fresh instance's first call) are
// throttled or slow, and so is KMS.
const DefaultFaults = "DynamoDB_20120810.UpdateItem=0.02,TransactWriteItems=0.02,SQS.SendMessageBatch=0.01," +
	"GetSecretValue:throttle=0.05,GetSecretValue:slow=0.1,Decrypt:throttle=0.02,*=0.005"

func main() {
	cfg, err := load(os.Getenv)
	if err != nil {
		fail(err)
	}
	t, err := run(cfg)
	if err != nil {
		fail(err)
	}
	if t.failed() {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "soak:", err)
	os.Exit(2)
}

func load(getenv func(string) string) (settings, error) {
	s := settings{requests: 5000, concurrency: 16, seed: 1, settle: 10 * time.Minute, outage: 5 * time.Second, pollers: 5, backlog: 150,
		deadline: 20 * time.Second, hang: 3 * time.Second, fresh: 0.05}
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
	for k, dst := range map[string]*time.Duration{"SOAK_SETTLE": &s.settle, "SOAK_OUTAGE": &s.outage, "SOAK_REVIEW_DEADLINE": &s.deadline, "SOAK_FAULT_HANG": &s.hang} {
		if v := getenv(k); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return s, fmt.Errorf("%s=%q: want a positive duration", k, v)
			}
			*dst = d
		}
	}
	if v := getenv("SOAK_FRESH_INSTANCES"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return s, fmt.Errorf("SOAK_FRESH_INSTANCES=%q: want a share from 0 to 1", v)
		}
		s.fresh = f
	}
	rules := getenv("FAULTS")
	switch rules {
	case "":
		rules = DefaultFaults
	case "off":
		rules = ""
	}
	r, err := faults.ParseRules(rules)
	if err != nil {
		return s, fmt.Errorf("FAULTS: %w", err)
	}
	s.faults = r
	return s, nil
}

// The gate's delivery settings for the run: short backoff so retries happen
// within it, a 1 s timeout so "too slow" validators cost little, and the
// dispatcher's config cache on for 2 s (30 s in AWS; off by default
// locally, where every batch would then read the webhook set and open every
// connection's secrets again).
var gateEnv = map[string]string{"WEBHOOK_BACKOFF": "200ms", "WEBHOOK_MAX_ATTEMPTS": "3", "WEBHOOK_TIMEOUT": "1s", "DISPATCH_CONFIG_TTL": "2s"}

// dispatchVisibility replaces the dispatch queue's 360 s visibility timeout
// for the run: messages the killed dispatcher held come back after it, as
// they would in AWS, only sooner.
const dispatchVisibility = 20

// requestID and webhookKey find the privacy requests and the run's
// webhooks a call to AWS is about (a webhook's connection, conn_<key>,
// names it too).
var (
	requestID  = regexp.MustCompile(`pri_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	webhookKey = regexp.MustCompile(`soak_[a-z]\b`)
)

// tagCall names the request ids, then the webhook keys, a call's body holds.
func tagCall(_ string, body []byte) []string {
	var tags []string
	seen := map[string]bool{}
	for _, re := range []*regexp.Regexp{requestID, webhookKey} {
		for _, m := range re.FindAll(body, -1) {
			if tag := string(m); !seen[tag] {
				seen[tag] = true
				tags = append(tags, tag)
			}
		}
	}
	return tags
}

// surfaced are the injected faults the SDK did not absorb, by the request
// ids their calls named.
func surfaced(all []faults.Fault) map[string][]SurfacedFault {
	out := map[string][]SurfacedFault{}
	for _, f := range all {
		if f.Absorbed {
			continue
		}
		var ids, hooks []string
		for _, tag := range f.Tags {
			if requestID.MatchString(tag) {
				ids = append(ids, tag)
			} else {
				hooks = append(hooks, tag)
			}
		}
		for _, id := range ids {
			out[id] = append(out[id], SurfacedFault{At: f.At, Webhooks: hooks})
		}
	}
	return out
}

// failed says whether the run breaks the gate's promise.
func (t tally) failed() bool {
	return t.lost > 0 || t.double > 0 || t.unexplained > 0 || t.approved < t.shouldApprove
}

type tally struct {
	lost, double, stuck, unexplained int
	// shouldApprove are the requests every validator replied eligible to
	// (ShouldApprove); approved those of them the gate approved.
	shouldApprove, approved int
	// What the run made happen: fresh instances, throttles, conflicts.
	coldStarts, throttles, conflicts int
	status                           map[string]int
	rules                            map[string]int // requests by broken rule
	examples                         []string       // the first few requests of each count, with why
}

func run(cfg settings) (tally, error) {
	began := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "soak: %6.1fs "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
	}
	root, err := local.Root()
	if err != nil {
		return tally{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	var moto *stack.Moto
	if endpoint == "" {
		if moto, err = stack.StartMoto(ctx, root, stack.MotoOptions{}); err != nil {
			return tally{}, err
		}
		defer moto.Stop()
		endpoint = moto.Endpoint
	}
	// The gate's functions reach the emulator through the injector; the
	// run's own calls (provisioning, the pollers standing in for Lambda's
	// event sources, queue depth, draining) go to it directly. The
	// injector is paused while the run sets up and while it checks.
	proxy := &faults.Proxy{Target: endpoint, Rules: cfg.faults, Hang: cfg.hang, Tag: tagCall, Rand: seeded(cfg.seed)}
	proxy.Pause()
	proxyURL, err := proxy.Start()
	if err != nil {
		return tally{}, err
	}
	defer proxy.Close()
	env := map[string]string{"REVIEW_DEADLINE": cfg.deadline.String()}
	for k, v := range gateEnv {
		env[k] = v
	}
	busy := &invocations{}
	dropped := newDroppedDeliveries()
	sys, err := local.Start(ctx, local.Options{Root: root, Addr: "127.0.0.1:0", Env: env, Log: slog.New(slog.NewJSONHandler(dropped, nil)),
		Endpoint: endpoint, ProductEndpoint: proxyURL, DispatchPollers: cfg.pollers, Invoked: busy.add,
		Instances: &local.Instances{Fresh: cfg.fresh, Seed: cfg.seed}})
	if err != nil {
		return tally{}, err
	}
	defer sys.Stop()
	// Ctrl-C still stops the emulator it started.
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-interrupted
		sys.Stop()
		moto.Stop()
		os.Exit(130)
	}()
	q := sqs.NewFromConfig(sys.AWS)
	dispatchURL := sys.Stack.Resources["DispatchQueue"].Ref
	if _, err := q.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &dispatchURL,
		Attributes: map[string]string{"VisibilityTimeout": strconv.Itoa(dispatchVisibility)}}); err != nil {
		return tally{}, err
	}

	api := &apiClient{apiclient.Client{Base: sys.URL + "/api/v1", HTTP: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}}
	if err := api.Login("local-admin", "local-admin-secret"); err != nil {
		return tally{}, err
	}
	timeout, _ := time.ParseDuration(gateEnv["WEBHOOK_TIMEOUT"])
	sc, err := newScenario(api, sys, cfg.seed, timeout, logf)
	sc.dropped = dropped
	if err != nil {
		return tally{}, err
	}
	defer sc.close()
	logf("system up at %s (emulator %s, injector %s); submitting %d requests, %d at a time; REVIEW_DEADLINE=%s",
		sys.URL, endpoint, proxyURL, cfg.requests, cfg.concurrency, cfg.deadline)
	proxy.Resume()

	// Submit, stepping through the scenario as the submissions go in.
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
	var decile atomic.Int64
	steps := sc.steps(cfg)
	subs := api.submitAll(cfg, func() int { return int(depth.Load()) }, func(attempted, accepted int) {
		if d := int64(accepted * 10 / cfg.requests); d > decile.Load() && decile.CompareAndSwap(d-1, d) {
			logf("%d submitted (dispatch backlog %d, stream %s behind, %d faults so far)", accepted, depth.Load(),
				sys.StreamIteratorAge().Round(time.Second), proxy.Count())
		}
		steps.reached(attempted)
	})
	steps.finish()
	stopSampling()
	lastSubmit := time.Now()
	logf("submitted: %d accepted, %d refused", len(subs.ids), subs.refused)
	logf("emulator restart skipped: moto cannot keep its state across a restart (docs/internals/emulator.md)")

	// Settle: the stream poller caught up with the table's writes, no
	// dispatch message left (visible, in flight or delayed), every validator
	// idle for 5 s, and the review deadline (and a reconciler run after it) passed
	// since the last submission.
	deadline := time.Now().Add(cfg.settle)
	for tick := 1; ; tick++ {
		n, err := queueDepth(q, dispatchURL)
		if err != nil {
			return tally{}, err
		}
		idle := sc.idleFor(5 * time.Second)
		behind := sys.StreamIteratorAge()
		if n == 0 && idle && behind < 2*time.Second && time.Since(lastSubmit) > cfg.deadline+cfg.deadline/2+2*time.Second {
			break
		}
		if time.Now().After(deadline) {
			logf("not settled after %s (%d dispatch messages left, stream %s behind); checking anyway", cfg.settle, n, behind.Round(time.Second))
			break
		}
		if tick%15 == 0 {
			logf("settling: %d dispatch messages left, stream %s behind", n, behind.Round(time.Second))
		}
		time.Sleep(2 * time.Second)
	}
	proxy.Pause()
	logf("settled: %d validator calls, %d faults injected", sc.calls(), proxy.Count())
	for _, line := range proxy.Summary() {
		logf("  fault %s", line)
	}
	for _, line := range busy.summary() {
		logf("  invoked %s", line)
	}
	for _, line := range callSummary(proxy.Calls()) {
		logf("  calls %s", line)
	}

	seen := map[string]sentApproval{} // approved-queue messages by id, across the reads
	messages, err := drainApproved(q, sys.Stack.Resources["ApprovedQueue"].Ref, seen)
	if err != nil {
		return tally{}, err
	}
	faulted := surfaced(proxy.Faults())
	t := api.checkAll(subs, sc, messages, faulted, cfg.deadline)
	// An approval published after the drain is late, not lost: the statuses
	// are read after the queue, so an approval made in between (the
	// reconciler's, minutes after a webhook was removed) has its message
	// still to come. Read the queue again after a while, a few times.
	for try := 0; t.lost > 0 && try < 5; try++ {
		logf("%d lost; reading the approved queue again in 30 s", t.lost)
		time.Sleep(30 * time.Second)
		more, err := drainApproved(q, sys.Stack.Resources["ApprovedQueue"].Ref, seen)
		if err != nil {
			return tally{}, err
		}
		for id, n := range more {
			messages[id] += n
		}
		t = api.checkAll(subs, sc, messages, faulted, cfg.deadline)
	}
	for _, line := range repeatedSends(seen) {
		logf("  %s", line)
	}
	if orphans, err := api.orphans(subs); err != nil {
		logf("could not list the requests: %v", err)
	} else {
		logf("%d requests exist whose submitter was told the submission failed (of %d refused): %v", len(orphans), subs.refused, orphans)
	}
	logf("checked %d requests: %v; done in %s", len(subs.ids), t.status, time.Since(began).Round(time.Second))
	rules := make([]string, 0, len(t.rules))
	for r, n := range t.rules {
		rules = append(rules, fmt.Sprintf("%5d × %s", n, r))
	}
	sort.Strings(rules)
	for _, r := range rules {
		logf("  %s", r)
	}
	for _, why := range t.examples {
		logf("  %s", why)
	}
	logf("should approve %d requests (every validator replied eligible); approved %d of them", t.shouldApprove, t.approved)
	t.coldStarts, t.throttles, t.conflicts = sys.ColdStarts(), proxy.CountKind(faults.Throttle), proxy.CountKind(faults.Conflict)
	fmt.Printf("soak: lost=%d double_decided=%d stuck=%d unexplained=%d faults=%d cold_starts=%d throttles=%d conflicts=%d\n",
		t.lost, t.double, t.stuck, t.unexplained, proxy.Count(), t.coldStarts, t.throttles, t.conflicts)
	return t, nil
}

// seeded is a goroutine-safe [0,1) source for the injector.
func seeded(seed uint64) func() float64 {
	var mu sync.Mutex
	rng := newRand(seed, 0xfa17)
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return rng.Float64()
	}
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

// drainApproved reads the whole approved queue (the soak is its only
// consumer) and counts the distinct messages per request id. It receives
// each message for 12 hours and never deletes it: AWS drops a repeat of a
// MessageDeduplicationId for 5 minutes whether or not its message was
// consumed, moto only while the message is still in the queue, so deleting
// would let moto count a repeat that AWS drops. seen (message id to request
// id and sent time) is shared by the reads; sent lists a request's sends
// when it has more than one.
func drainApproved(q *sqs.Client, url string, seen map[string]sentApproval) (map[string]int, error) {
	counts := map[string]int{}
	for empty := 0; empty < 2; {
		out, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			VisibilityTimeout: 43200, MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameSentTimestamp}})
		if err != nil {
			return nil, fmt.Errorf("read the approved queue: %w", err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		for _, m := range out.Messages {
			var b queue.ApprovedBody
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &b); err != nil {
				return nil, fmt.Errorf("approved message %q: %w", aws.ToString(m.Body), err)
			}
			if id := aws.ToString(m.MessageId); seen[id].request == "" {
				ms, _ := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64)
				seen[id] = sentApproval{request: b.PrivacyRequestID, at: time.UnixMilli(ms)}
				counts[b.PrivacyRequestID]++
			}
		}
	}
	return counts, nil
}

// sentApproval is one approved-queue message: its request and when SQS took it.
type sentApproval struct {
	request string
	at      time.Time
}

// repeatedSends lists, for each request with more than one approved message,
// when each was sent: how far apart says whether SQS's window should have
// dropped the repeat.
func repeatedSends(seen map[string]sentApproval) []string {
	by := map[string][]time.Time{}
	for _, s := range seen {
		by[s.request] = append(by[s.request], s.at)
	}
	var out []string
	for id, at := range by {
		if len(at) < 2 {
			continue
		}
		slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
		out = append(out, fmt.Sprintf("%s: %d approved messages, the last %s after the first", id, len(at), at[len(at)-1].Sub(at[0])))
	}
	sort.Strings(out)
	return out
}

// apiClient talks to the gate's API as admins and subjects do.
type apiClient struct{ apiclient.Client }

// submissions are the accepted requests and when each was accepted.
type submissions struct {
	ids     []string
	at      map[string]time.Time
	refused int
}

// submitAll submits cfg.requests requests, one per call, cfg.concurrency at
// a time, pausing while backlog() is over cfg.backlog; progress is told how
// many were tried and accepted so far. Refused submissions (never accepted,
// so never lost) are counted.
func (c *apiClient) submitAll(cfg settings, backlog func() int, progress func(attempted, accepted int)) submissions {
	var (
		mu   sync.Mutex
		subs = submissions{at: map[string]time.Time{}}
		next atomic.Int64
		wg   sync.WaitGroup
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
					subs.refused++
				} else {
					subs.ids = append(subs.ids, out.Succeeded[0].ID)
					subs.at[out.Succeeded[0].ID] = time.Now()
				}
				accepted := len(subs.ids)
				mu.Unlock()
				progress(int(n), accepted)
			}
		})
	}
	wg.Wait()
	return subs
}

// checkAll reads every request and its timeline and classifies it.
func (c *apiClient) checkAll(subs submissions, sc *scenario, messages map[string]int, faulted map[string][]SurfacedFault, deadline time.Duration) tally {
	t := tally{status: map[string]int{}, rules: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	examples := map[string]int{}
	work := make(chan string)
	for range 8 {
		wg.Go(func() {
			for id := range work {
				o := c.observe(id, sc, messages[id])
				o.ReviewDeadline, o.Faults = deadline, faulted[id]
				o.Removed, o.Unusable, o.Dropped = sc.removed(), sc.unusableSpans(), sc.dropped.of(id)
				o.Stranded = sc.stranded(subs.at[id], deadline)
				v := classify(o)
				mu.Lock()
				t.status[o.Status]++
				if v.ShouldApprove {
					t.shouldApprove++
					if o.Status == "approved" {
						t.approved++
					}
				}
				for _, r := range v.Rules {
					t.rules[r]++
				}
				for _, c := range []struct {
					on bool
					n  *int
				}{{v.Lost, &t.lost}, {v.DoubleDecided, &t.double}, {v.Unexplained, &t.unexplained}, {v.Stuck, &t.stuck}} {
					if c.on {
						*c.n++
					}
				}
				// Two requests of each broken rule, with the whole story.
				wanted := false
				for _, r := range v.Rules {
					if examples[r] < 2 {
						examples[r]++
						wanted = true
					}
				}
				if wanted {
					t.examples = append(t.examples, fmt.Sprintf("%s (status %s, %d faults surfaced): %s; timeline: %s", id, o.Status, len(o.Faults), v.Why, o.Timeline))
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range subs.ids {
		work <- id
	}
	close(work)
	wg.Wait()
	return t
}

func (c *apiClient) observe(id string, sc *scenario, messages int) Observed {
	o := Observed{States: map[string]string{}, Actions: map[string]int{}, Failures: map[string]Entry{}, Validated: sc.view(id), Messages: messages}
	for _, v := range o.Validated {
		if v.Called && v.CalledAt.After(o.LastHandled) {
			o.LastHandled = v.CalledAt
		}
	}
	var r struct {
		Status    string    `json:"status"`
		CreatedAt time.Time `json:"created_at"`
		Webhooks  []struct {
			Key   string `json:"key"`
			State string `json:"state"`
		} `json:"webhooks"`
	}
	var act struct {
		Items []struct {
			Action     string    `json:"action"`
			Message    string    `json:"message"`
			At         time.Time `json:"at"`
			WebhookKey *string   `json:"webhook_key"`
		} `json:"items"`
	}
	if c.retry(func() error { return c.Do("GET", "/privacy-request/"+id, nil, &r) }) != nil ||
		c.retry(func() error { return c.Do("GET", "/privacy-request/"+id+"/activity", nil, &act) }) != nil {
		return o // not found, or unreadable: lost either way
	}
	o.Found, o.Status, o.Created = true, r.Status, r.CreatedAt
	for _, w := range r.Webhooks {
		o.States[w.Key] = w.State
	}
	first := func(t *time.Time, at time.Time) {
		if t.IsZero() || at.Before(*t) {
			*t = at
		}
	}
	for _, e := range act.Items {
		o.Timeline += fmt.Sprintf("[%s %s %q] ", e.At.Format(time.RFC3339Nano), e.Action, e.Message)
		o.Actions[e.Action]++
		switch e.Action {
		case "approved":
			o.Decisions++
			first(&o.Approved, e.At)
			first(&o.Closed, e.At)
		case "denied":
			o.Decisions++
			first(&o.Closed, e.At)
		case "pre_approval_not_eligible":
			first(&o.Closed, e.At)
		case "pre_approval_webhook_called":
			if e.At.After(o.LastHandled) {
				o.LastHandled = e.At
			}
		case "pre_approval_webhook_failed":
			if e.WebhookKey != nil {
				o.Failures[*e.WebhookKey] = Entry{At: e.At, Message: e.Message}
			}
			if e.At.After(o.LastHandled) {
				o.LastHandled = e.At
			}
		case "status_changed":
			if reviewDeadline.MatchString(e.Message) {
				first(&o.Deadline, e.At)
			}
		}
	}
	return o
}

// reviewDeadline finds the status change the review deadline makes.
var reviewDeadline = regexp.MustCompile(`(?i)review deadline`)

// orphans lists every request and returns those that were not accepted as
// far as their submitter knows: created, yet reported failed.
func (c *apiClient) orphans(subs submissions) ([]string, error) {
	var out []string
	cursor := ""
	for {
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			Next *string `json:"next_cursor"`
		}
		path := "/privacy-request?size=100"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := c.retry(func() error { return c.Do("GET", path, nil, &page) }); err != nil {
			return out, err
		}
		for _, it := range page.Items {
			if _, ok := subs.at[it.ID]; !ok {
				out = append(out, it.ID)
			}
		}
		if page.Next == nil || *page.Next == "" {
			return out, nil
		}
		cursor = *page.Next
	}
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

// invocations adds up the handlers' invocations per function, as Lambda
// would bill them: where the run's time went.
type invocations struct {
	mu    sync.Mutex
	count map[string]int
	took  map[string]time.Duration
}

func (v *invocations) add(function string, took time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.count == nil {
		v.count, v.took = map[string]int{}, map[string]time.Duration{}
	}
	v.count[function]++
	v.took[function] += took
}

// summary is one "function: N invocations, T in all" line each, sorted.
func (v *invocations) summary() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var lines []string
	for f, n := range v.count {
		lines = append(lines, fmt.Sprintf("%s: %d invocations, %s in all", f, n, v.took[f].Round(time.Second)))
	}
	sort.Strings(lines)
	return lines
}

// callSummary is one "operation count" line per operation the gate's
// functions called, sorted.
func callSummary(calls map[string]int) []string {
	lines := make([]string, 0, len(calls))
	for op, n := range calls {
		lines = append(lines, fmt.Sprintf("%s %d", op, n))
	}
	sort.Strings(lines)
	return lines
}
