package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pregate/pregate/validator"
)

// Answer is a validator's verdict on one request.
type Answer string

const (
	Eligible    Answer = "eligible"
	NotEligible Answer = "not-eligible"
)

// unruly is a validator that misbehaves at random, per call: it answers 500,
// answers after the dispatcher's timeout, replies twice, replies late, or
// (per request) never replies. Its verdict on a request is fixed at the first
// call, as a real validator's would be; every reply it sends says that verdict.
// It replies with our Go SDK's Replier, so it retries what the SDK retries
// (no answer, 429, 5xx) and gives up where the SDK does (any other 4xx): a
// reply the gate wrongly refuses strands the request here as it would in AWS.
type unruly struct {
	key     string
	srv     *httptest.Server
	replier *validator.Replier
	timeout time.Duration // the gate's WEBHOOK_TIMEOUT: "too slow" sleeps past it

	mu       sync.Mutex
	rng      *rand.Rand
	verdicts map[string]verdict  // by request id
	seen     map[string]*history // what happened to the calls and replies, by request id
	inFlight atomic.Int64        // calls being answered and replies being sent
	calls    atomic.Int64
	lastBusy atomic.Int64 // unix nanos of the last call or reply
}

// history is what one validator did about one request.
type history struct {
	first    time.Time // its first call
	replied  bool      // it sent (or began sending) a reply
	accepted Answer    // the reply the gate answered 2xx ("" when none)
	refused  []Refusal // replies the gate refused for good (a 4xx the SDK does not retry)
	unsure   []Span    // replies that never got a definite answer
	failed   []time.Time
}

// Refusal is a reply the gate refused for good.
type Refusal struct {
	At     time.Time
	Status int
	Detail string
}

// Span is a stretch of time: [From, To].
type Span struct{ From, To time.Time }

type verdict struct {
	answer Answer
	silent bool // never replies: the request waits for an admin
}

func newUnruly(key string, seed uint64, timeout time.Duration) *unruly {
	v := &unruly{key: key, timeout: timeout, rng: rand.New(rand.NewPCG(seed, 0x5eed)),
		verdicts: map[string]verdict{}, seen: map[string]*history{},
		replier: &validator.Replier{Client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}}
	v.srv = httptest.NewServer(http.HandlerFunc(v.serve))
	return v
}

// draw fixes the request's verdict at its first call and draws what this
// call does (a roll of 100, see serve) and how late a late reply comes.
func (v *unruly) draw(id string) (verdict, int, time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	vd, ok := v.verdicts[id]
	if !ok {
		vd = verdict{answer: Eligible, silent: v.rng.IntN(100) < 2}
		if v.rng.IntN(100) < 5 {
			vd.answer = NotEligible
		}
		v.verdicts[id] = vd
	}
	return vd, v.rng.IntN(100), time.Duration(500+v.rng.IntN(2500)) * time.Millisecond
}

func (v *unruly) serve(w http.ResponseWriter, r *http.Request) {
	v.inFlight.Add(1)
	defer v.inFlight.Add(-1)
	defer v.touch()
	v.calls.Add(1)
	body, _ := io.ReadAll(r.Body)
	var in struct {
		ID string `json:"privacy_request_id"`
	}
	if json.Unmarshal(body, &in) != nil || in.ID == "" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	vd, roll, late := v.draw(in.ID)
	v.record(in.ID, func(h *history) {
		if h.first.IsZero() {
			h.first = time.Now()
		}
	})
	to := validator.ReplyTo{BaseURL: r.Header.Get("reply-to-base-url"), EligiblePath: r.Header.Get("reply-to-eligible"),
		NotEligiblePath: r.Header.Get("reply-to-not-eligible"), Token: r.Header.Get("reply-to-token")}
	// Of 100 calls: 10 fail, 5 are too slow, 10 reply twice, 10 reply late,
	// the rest reply at once.
	replies, delay := 1, time.Duration(0)
	switch {
	case roll < 10:
		v.fail(in.ID)
		w.WriteHeader(http.StatusInternalServerError)
		return
	case roll < 15:
		// Too slow: the gate gives up on this attempt, but the work was done.
		v.fail(in.ID)
		select {
		case <-time.After(v.timeout + 200*time.Millisecond):
		case <-r.Context().Done():
		}
	case roll < 25:
		replies = 2
	case roll < 35:
		delay = late
	}
	w.WriteHeader(http.StatusOK)
	if vd.silent {
		return
	}
	v.record(in.ID, func(h *history) { h.replied = true })
	v.inFlight.Add(1)
	go func() {
		defer v.inFlight.Add(-1)
		defer v.touch()
		time.Sleep(delay)
		for range replies {
			v.reply(in.ID, vd.answer, to)
		}
	}()
}

// reply sends the verdict with the SDK's Replier and records how the gate
// answered: accepted, refused for good, or never definitely.
func (v *unruly) reply(id string, answer Answer, to validator.ReplyTo) {
	d := validator.Eligible
	if answer == NotEligible {
		d = validator.NotEligible
	}
	from := time.Now()
	err := v.replier.Reply(context.Background(), to, d)
	var re *validator.ReplyError
	v.record(id, func(h *history) {
		switch {
		case err == nil:
			h.accepted = answer
		case errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500 && re.StatusCode != http.StatusTooManyRequests:
			h.refused = append(h.refused, Refusal{At: time.Now(), Status: re.StatusCode, Detail: re.Detail})
		default:
			h.unsure = append(h.unsure, Span{From: from, To: time.Now()})
		}
	})
}

func (v *unruly) fail(id string) {
	v.record(id, func(h *history) { h.failed = append(h.failed, time.Now()) })
}

// record changes what is known about id under the lock.
func (v *unruly) record(id string, change func(*history)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	h := v.seen[id]
	if h == nil {
		h = &history{}
		v.seen[id] = h
	}
	change(h)
}

func (v *unruly) touch() { v.lastBusy.Store(time.Now().UnixNano()) }

// idleFor says whether the validator has had nothing to do for d.
func (v *unruly) idleFor(d time.Duration) bool {
	return v.inFlight.Load() == 0 && time.Since(time.Unix(0, v.lastBusy.Load())) >= d
}

// view is what the checker needs from the validator about one request.
func (v *unruly) view(id string) Validated {
	v.mu.Lock()
	defer v.mu.Unlock()
	vd, called := v.verdicts[id]
	out := Validated{Called: called, Verdict: vd.answer, Silent: vd.silent}
	if h := v.seen[id]; h != nil {
		out.CalledAt, out.Replied, out.Accepted, out.Failed = h.first, h.replied, h.accepted, append([]time.Time(nil), h.failed...)
		out.Refused, out.Unsure = append([]Refusal(nil), h.refused...), append([]Span(nil), h.unsure...)
	}
	return out
}
