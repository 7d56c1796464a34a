package validator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Decision is a validator's answer.
type Decision int

const (
	// Eligible lets the request go on: once every webhook of the request has
	// answered eligible, the gate approves it.
	Eligible Decision = iota + 1
	// NotEligible flags the request for manual review by an admin (it is
	// not denied).
	NotEligible
	// Later, returned by a Handler's Decide, acknowledges the call without
	// answering: Decide has kept Call.ReplyTo to answer with a Replier
	// later (e.g. once a human has looked), within the token's lifetime.
	Later
)

func (d Decision) String() string {
	switch d {
	case Eligible:
		return "eligible"
	case NotEligible:
		return "not-eligible"
	case Later:
		return "later"
	}
	return fmt.Sprintf("Decision(%d)", int(d))
}

// ReplyTo is where and how to answer one call: the reply-to headers.
type ReplyTo struct {
	BaseURL         string // reply-to-base-url, the API base ending in /api/v1
	EligiblePath    string // reply-to-eligible, relative to BaseURL
	NotEligiblePath string // reply-to-not-eligible, relative to BaseURL
	Token           string // reply-to-token, sent as a Bearer credential; never log it
}

// URL is the address to POST decision d to.
func (to ReplyTo) URL(d Decision) (string, error) {
	base := strings.TrimRight(to.BaseURL, "/")
	switch d {
	case Eligible:
		return base + to.EligiblePath, nil
	case NotEligible:
		return base + to.NotEligiblePath, nil
	}
	return "", fmt.Errorf("validator: %v is not an answer to send", d)
}

// Defaults of a Replier.
const (
	DefaultReplyAttempts = 5
	DefaultReplyTimeout  = 10 * time.Second // per attempt, with the default client
	DefaultBaseDelay     = 500 * time.Millisecond
	DefaultMaxDelay      = 30 * time.Second
)

// maxErrorBody is how much of a refusal's body a ReplyError keeps.
const maxErrorBody = 4 << 10

// ReplyError is a reply the gate did not accept.
type ReplyError struct {
	Decision   Decision
	Attempts   int
	StatusCode int    // the last response's status; 0 if none came
	Detail     string // the "detail" of the gate's error body, if it had one
	Body       string // the start of the last response's body
	Err        error  // the network or context error of the last attempt, if any
}

func (e *ReplyError) Error() string {
	msg := fmt.Sprintf("validator: reply %s failed after %d attempt(s)", e.Decision, e.Attempts)
	if e.StatusCode != 0 {
		msg += fmt.Sprintf(": HTTP %d", e.StatusCode)
		if e.Detail != "" {
			msg += ": " + e.Detail
		}
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ReplyError) Unwrap() error { return e.Err }

// Replier sends answers. The zero value is ready to use.
//
// A 2xx is success. Answering the same again is a 2xx too, so a retry after
// a lost response is safe. Network errors, 429 and 5xx are retried with
// exponential backoff and jitter, at most MaxAttempts times in all and never
// past ctx; any other status is final (the gate explains it in "detail",
// e.g. 400 when an admin decided first, 403 when the token has expired).
type Replier struct {
	Client      *http.Client  // nil: http.Client with DefaultReplyTimeout
	MaxAttempts int           // DefaultReplyAttempts if zero
	BaseDelay   time.Duration // wait before the second attempt, doubled each time; DefaultBaseDelay if zero
	MaxDelay    time.Duration // cap of the wait; DefaultMaxDelay if zero
}

var defaultClient = &http.Client{Timeout: DefaultReplyTimeout}

// Reply POSTs d to its reply URL with the token; the error, when the gate
// did not accept it, is a *ReplyError.
func (r *Replier) Reply(ctx context.Context, to ReplyTo, d Decision) error {
	target, err := to.URL(d)
	if err != nil {
		return err
	}
	client, attempts := r.Client, r.MaxAttempts
	if client == nil {
		client = defaultClient
	}
	if attempts <= 0 {
		attempts = DefaultReplyAttempts
	}
	rerr := &ReplyError{Decision: d}
	for rerr.Attempts < attempts {
		if rerr.Attempts > 0 {
			if err := sleep(ctx, r.delay(rerr.Attempts)); err != nil {
				rerr.Err = err
				return rerr
			}
		}
		rerr.Attempts++
		retry, err := r.post(ctx, client, target, to.Token, rerr)
		if err == nil {
			return nil
		}
		if !retry || ctx.Err() != nil {
			return rerr
		}
	}
	return rerr
}

// post makes one attempt, recording its outcome in rerr; retry says whether
// another attempt may succeed.
func (r *Replier) post(ctx context.Context, client *http.Client, target, token string, rerr *ReplyError) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader("{}"))
	if err != nil {
		rerr.Err = err
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		rerr.StatusCode, rerr.Detail, rerr.Body, rerr.Err = 0, "", "", err
		return true, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	rerr.StatusCode, rerr.Body, rerr.Err = resp.StatusCode, string(raw), nil
	var detail struct {
		Detail string `json:"detail"`
	}
	if json.NewDecoder(bytes.NewReader(raw)).Decode(&detail) == nil {
		rerr.Detail = detail.Detail
	}
	return resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500, rerr
}

// delay is the wait after the n-th failed attempt: BaseDelay·2^(n-1), capped
// at MaxDelay, then a random point in its upper half, so validators that
// failed together do not retry together.
func (r *Replier) delay(n int) time.Duration {
	d, maxDelay := r.BaseDelay, r.MaxDelay
	if d <= 0 {
		d = DefaultBaseDelay
	}
	if maxDelay <= 0 {
		maxDelay = DefaultMaxDelay
	}
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
