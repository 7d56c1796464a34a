package validator

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// DefaultAnswerTimeout bounds Decide plus the reply of one call answered in
// the background: enough for the Replier's default attempts and waits.
const DefaultAnswerTimeout = 2 * time.Minute

// Handler serves pre-approval calls: it checks each call with Verifier,
// asks Decide, and replies with Replier.
//
// By default the call is acknowledged with 202 as soon as it is checked,
// and Decide and the reply run in the background, so a slow check (a CRM, a
// ticket system) never makes the gate's call time out. A refused call gets
// 401 (signature, timestamp), 400 (malformed) or 413 and is never answered.
type Handler struct {
	Verifier *Verifier
	// Decide makes the decision for one call. An error sends no answer
	// (logged; with Sync the gate calls again).
	Decide func(ctx context.Context, c *Call) (Decision, error)
	// Replier sends the answers; a zero Replier if nil.
	Replier *Replier
	// Sync decides and replies before acknowledging the call: 200 once the
	// answer is accepted, 500 when Decide or the reply failed, so the gate
	// retries the call and, after its last attempt, shows the failure to
	// its admins. Use it where nothing may run after the response (AWS
	// Lambda) and Decide is quick: the gate waits WEBHOOK_TIMEOUT (10 s by
	// default) for the whole exchange.
	Sync bool
	// Timeout bounds Decide plus the reply in the background;
	// DefaultAnswerTimeout if zero. With Sync the call's context applies.
	Timeout time.Duration
	// Log gets a line per refused call and per failed decision or reply;
	// slog.Default() if nil. Tokens and signatures are never logged.
	Log *slog.Logger

	inFlight sync.WaitGroup
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	c, err := h.Verifier.ParseRequest(r)
	if err != nil {
		var ce *CallError
		errors.As(err, &ce)
		h.log().Warn("refused a pre-approval call", "error", err.Error())
		http.Error(w, ce.Kind.Error(), statusOf(ce.Kind))
		return
	}
	if !h.Sync {
		w.WriteHeader(http.StatusAccepted)
		timeout := h.Timeout
		if timeout <= 0 {
			timeout = DefaultAnswerTimeout
		}
		// The call's context ends with this response; the answer must not.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), timeout)
		h.inFlight.Go(func() {
			defer cancel()
			_, _ = h.answer(ctx, c)
		})
		return
	}
	switch d, err := h.answer(r.Context(), c); {
	case err != nil:
		http.Error(w, "could not answer", http.StatusInternalServerError)
	case d == Later:
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// Wait returns once every answer running in the background has been sent
// or has failed: call it after http.Server.Shutdown so none is cut off.
func (h *Handler) Wait() { h.inFlight.Wait() }

// answer decides and replies, logging a failure.
func (h *Handler) answer(ctx context.Context, c *Call) (Decision, error) {
	log := h.log().With("privacy_request_id", c.PrivacyRequestID, "webhook_id", c.WebhookID)
	d, err := h.Decide(ctx, c)
	if err != nil {
		log.Error("pre-approval decision failed; no answer sent", "error", err.Error())
		return 0, err
	}
	if d == Later {
		return d, nil
	}
	replier := h.Replier
	if replier == nil {
		replier = &Replier{}
	}
	if err := replier.Reply(ctx, c.ReplyTo, d); err != nil {
		log.Error("pre-approval answer not accepted", "decision", d.String(), "error", err.Error())
		return d, err
	}
	log.Info("pre-approval answer sent", "decision", d.String())
	return d, nil
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func statusOf(kind error) int {
	switch kind {
	case ErrBadSignature, ErrStaleTimestamp:
		return http.StatusUnauthorized
	case ErrBodyTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}
