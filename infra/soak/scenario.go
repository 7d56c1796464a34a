package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/infra/local"
)

// The run's webhooks: a, b and c stay configured throughout; d is removed
// mid-run; n is on a connection without secrets (refused with 422 when the
// gate checks that; otherwise configured until d's removal, which takes it
// too). c's secrets cannot be opened for a while.
var (
	steady  = []string{"soak_a", "soak_b", "soak_c"}
	removed = "soak_d"
	noSecr  = "soak_n"
	broken  = "soak_c"
)

func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }

// scenario holds the validators and the configuration changes of the run.
type scenario struct {
	api  *apiClient
	sys  *local.System
	logf func(string, ...any)
	vals map[string]*unruly

	mu       sync.Mutex
	gone     map[string]time.Time // webhooks removed from the configuration, with when their removal began
	unusable map[string][]Span    // when connections had no usable secrets, by webhook key (To zero: still)
	sealed   types.AttributeValue
	// spoiledAt is when broken's secrets were spoilt.
	spoiledAt time.Time
	// killedAt is when the dispatcher was stopped: the messages it held
	// come back only after the queue's visibility timeout.
	killedAt []time.Time
	// background are the steps still running (the dispatcher's outage).
	background sync.WaitGroup
	// dropped are the deliveries the dispatcher dropped for a removed webhook.
	dropped *droppedDeliveries
}

func newScenario(api *apiClient, sys *local.System, seed uint64, timeout time.Duration, logf func(string, ...any)) (*scenario, error) {
	sc := &scenario{api: api, sys: sys, logf: logf, vals: map[string]*unruly{}, gone: map[string]time.Time{}, unusable: map[string][]Span{}}
	for i, k := range append(append([]string{}, steady...), removed, noSecr) {
		sc.vals[k] = newUnruly(k, seed+uint64(i), timeout)
		if err := api.connection(k); err != nil {
			return sc, err
		}
		if k == noSecr {
			continue
		}
		if err := api.Do("PUT", "/connection/conn_"+k+"/secret", map[string]any{"url": sc.vals[k].srv.URL, "authorization": "Bearer soak"}, nil); err != nil {
			return sc, err
		}
	}
	return sc, api.webhooks(append(append([]string{}, steady...), removed))
}

func (sc *scenario) close() {
	for _, v := range sc.vals {
		v.srv.Close()
	}
}

// connection creates connection conn_<key>, without secrets.
func (c *apiClient) connection(key string) error {
	return c.Do("PATCH", "/connection", []map[string]any{{"key": "conn_" + key, "name": "Soak " + key,
		"connection_type": "https", "access": "read"}}, nil)
}

// webhooks makes keys the configured pre-approval webhooks.
func (c *apiClient) webhooks(keys []string) error {
	set := []map[string]any{}
	for _, k := range keys {
		set = append(set, map[string]any{"key": k, "name": "Soak " + k, "connection_config_key": "conn_" + k})
	}
	return c.Do("PUT", "/dsr/webhook/pre_approval", set, nil)
}

// persist retries an admin's change that faults failed (a 5xx), as an admin would.
func persist(do func() error) error {
	var err error
	for range 10 {
		if err = do(); err == nil || !strings.Contains(err.Error(), "HTTP 5") {
			return err
		}
		time.Sleep(300 * time.Millisecond)
	}
	return err
}

// step is one change of the run, made once at a share of the submissions.
type step struct {
	at   float64
	name string
	do   func() error
}

// stepper makes the steps in order, on its own goroutine.
type stepper struct {
	steps []step
	total int
	next  int
	mu    sync.Mutex
	work  chan step
	done  chan struct{}
}

func (sc *scenario) steps(cfg settings) *stepper {
	all := []step{
		{0.2, "configure a webhook on a connection without secrets", func() error {
			began := time.Now()
			err := persist(func() error { return sc.api.webhooks(append(append([]string{}, steady...), removed, noSecr)) })
			if err != nil && strings.Contains(err.Error(), "HTTP 422") {
				sc.logf("  refused with 422, as it should be")
				return nil
			}
			if err == nil {
				sc.logf("  accepted: %s is configured on a connection without secrets", noSecr)
				sc.mu.Lock()
				sc.unusable[noSecr] = append(sc.unusable[noSecr], Span{From: began})
				sc.mu.Unlock()
			}
			return err
		}},
		{0.4, "kill the dispatcher", func() error {
			sc.sys.StopDispatcher()
			sc.mu.Lock()
			sc.killedAt = append(sc.killedAt, time.Now())
			sc.mu.Unlock()
			sc.background.Go(func() {
				time.Sleep(cfg.outage)
				sc.sys.StartDispatcher()
				sc.logf("dispatcher restarted after %s", cfg.outage)
			})
			return nil
		}},
		{0.5, "remove webhooks " + removed + " and " + noSecr, func() error {
			began := time.Now() // the gate may act on the removal before the call returns
			if err := persist(func() error { return sc.api.webhooks(steady) }); err != nil {
				return err
			}
			sc.mu.Lock()
			sc.gone[removed], sc.gone[noSecr] = began, began
			sc.mu.Unlock()
			return nil
		}},
		{0.6, "make the secrets of " + broken + "'s connection impossible to open", func() error { return sc.spoil(true) }},
		{0.7, "restore the secrets of " + broken + "'s connection", func() error {
			// Unusable for half the review deadline at least, so that deliveries meet it.
			time.Sleep(time.Until(sc.spoiledAt.Add(cfg.deadline / 2)))
			return sc.spoil(false)
		}},
	}
	s := &stepper{steps: all, total: cfg.requests, work: make(chan step, len(all)), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer sc.background.Wait()
		for st := range s.work {
			sc.logf("%s", st.name)
			if err := st.do(); err != nil {
				sc.logf("  failed: %v", err)
			}
		}
	}()
	return s
}

// reached queues the steps due once attempted submissions were made.
func (s *stepper) reached(attempted int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.next < len(s.steps) && float64(attempted) >= s.steps[s.next].at*float64(s.total) {
		s.work <- s.steps[s.next]
		s.next++
	}
}

// finish makes the steps not yet due and waits for every step to end.
func (s *stepper) finish() {
	s.reached(s.total + 1)
	close(s.work)
	<-s.done
}

// mark opens (or closes) a span in which key's connection is unusable.
func (sc *scenario) mark(key string, open bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	w := sc.unusable[key]
	if open {
		sc.unusable[key] = append(w, Span{From: time.Now()})
	} else if len(w) > 0 {
		w[len(w)-1].To = time.Now()
	}
}

// spoil replaces the sealed secrets of broken's connection with bytes the
// key cannot open (on), or puts the original back (off). It writes the
// config table directly, as a bad restore or a wrong key would leave it.
func (sc *scenario) spoil(on bool) error {
	ctx := context.Background()
	db := dynamodb.NewFromConfig(sc.sys.AWS)
	table := sc.sys.Stack.Resources["ConfigTable"].Ref
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "CONNECTION"}, "sk": &types.AttributeValueMemberS{Value: "conn_" + broken}}
	if on {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return err
		}
		if out.Item["secrets_sealed"] == nil {
			return errors.New("no secrets_sealed on conn_" + broken + ": the config item's layout changed")
		}
		sc.sealed, sc.spoiledAt = out.Item["secrets_sealed"], time.Now()
		sc.mark(broken, true)
		_, err = db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key, UpdateExpression: aws.String("SET secrets_sealed = :s"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberB{Value: []byte("not a sealed secret")}}})
		return err
	}
	if sc.sealed == nil {
		return nil
	}
	_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key, UpdateExpression: aws.String("SET secrets_sealed = :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": sc.sealed}})
	if err == nil {
		sc.mark(broken, false)
	}
	return err
}

// removed are the webhooks no longer configured, with when their removal began.
func (sc *scenario) removed() map[string]time.Time {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	out := map[string]time.Time{}
	for k, at := range sc.gone {
		out[k] = at
	}
	return out
}

// unusableSpans are when each webhook's connection had no usable secrets.
func (sc *scenario) unusableSpans() map[string][]Span {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	out := map[string][]Span{}
	for k, ws := range sc.unusable {
		out[k] = append([]Span(nil), ws...)
	}
	return out
}

// stranded says whether the dispatcher was stopped while a request accepted
// at submitted could have deliveries in its hands: within the review
// deadline after the submission. Those deliveries come back after the
// visibility timeout, past the deadline.
func (sc *scenario) stranded(submitted time.Time, deadline time.Duration) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, at := range sc.killedAt {
		if !at.Before(submitted) && at.Before(submitted.Add(deadline)) {
			return true
		}
	}
	return false
}

// view is what every validator did about one request.
func (sc *scenario) view(id string) map[string]Validated {
	out := map[string]Validated{}
	for k, v := range sc.vals {
		out[k] = v.view(id)
	}
	return out
}

func (sc *scenario) idleFor(d time.Duration) bool {
	for _, v := range sc.vals {
		if !v.idleFor(d) {
			return false
		}
	}
	return true
}

func (sc *scenario) calls() int64 {
	var n int64
	for _, v := range sc.vals {
		n += v.calls.Load()
	}
	return n
}
