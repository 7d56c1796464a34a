package main

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
type unruly struct {
	key     string
	srv     *httptest.Server
	client  *http.Client
	timeout time.Duration // the gate's WEBHOOK_TIMEOUT: "too slow" sleeps past it

	mu       sync.Mutex
	rng      *rand.Rand
	verdicts map[string]verdict // by request id
	accepted map[string]Answer  // replies the gate accepted (200), by request id
	unsure   map[string]bool    // a reply never got a 200 or 4xx answer
	failed   map[string]int     // calls answered 500 or too late, by request id
	inFlight atomic.Int64       // calls being answered and replies being sent
	calls    atomic.Int64
	lastBusy atomic.Int64 // unix nanos of the last call or reply
}

type verdict struct {
	answer Answer
	silent bool // never replies: the request waits for an admin
}

func newUnruly(key string, seed uint64, timeout time.Duration) *unruly {
	v := &unruly{key: key, timeout: timeout, rng: rand.New(rand.NewPCG(seed, 0x5eed)),
		verdicts: map[string]verdict{}, accepted: map[string]Answer{}, unsure: map[string]bool{}, failed: map[string]int{},
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
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
	replyTo := r.Header.Get("reply-to-base-url") + r.Header.Get("reply-to-"+string(vd.answer))
	token := r.Header.Get("reply-to-token")
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
	v.inFlight.Add(1)
	go func() {
		defer v.inFlight.Add(-1)
		defer v.touch()
		time.Sleep(delay)
		for range replies {
			v.reply(in.ID, vd.answer, replyTo, token)
		}
	}()
}

// reply posts the verdict as a validator would, retrying what a validator
// should retry (no answer, 5xx); it records whether the gate accepted it.
func (v *unruly) reply(id string, answer Answer, url, token string) {
	for range 5 {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url, strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := v.client.Do(req)
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			v.mu.Lock()
			v.accepted[id] = answer
			v.mu.Unlock()
			return
		case resp.StatusCode < 500:
			return // refused: the request was decided or flagged meanwhile
		}
		time.Sleep(200 * time.Millisecond)
	}
	v.mu.Lock()
	v.unsure[id] = true
	v.mu.Unlock()
}

func (v *unruly) fail(id string) {
	v.mu.Lock()
	v.failed[id]++
	v.mu.Unlock()
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
	return Validated{Called: called, Verdict: vd.answer, Silent: vd.silent, Accepted: v.accepted[id], Unsure: v.unsure[id], Failed: v.failed[id]}
}
