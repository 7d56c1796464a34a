package gate

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// A mode is set on PUT (omitted: enforce), on add and on PATCH (omitted:
// kept; a shadow webhook is promoted by a PATCH); any other value is a 422
// at its place and changes nothing.
func TestWebhookMode(t *testing.T) {
	ctx := context.Background()
	a, store := rolloutAdmin(t)
	vs, err := a.ReplaceWebhooks(ctx, []WebhookInput{
		{Key: ptr("plain"), Name: ptr("Plain"), ConnectionConfigKey: ptr("c")},
		{Key: ptr("fraud"), Name: ptr("Fraud"), ConnectionConfigKey: ptr("c"), Mode: ptr("shadow")},
	})
	if err != nil || vs[0].Mode != ModeEnforce || vs[1].Mode != ModeShadow {
		t.Fatalf("PUT: %+v (%v)", vs, err)
	}
	if v, err := a.PatchWebhook(ctx, "fraud", WebhookInput{Name: ptr("Fraud check")}); err != nil || v.Mode != ModeShadow {
		t.Fatalf("a PATCH without mode: %+v (%v), want it kept", v.Webhook, err)
	}
	if v, err := a.PatchWebhook(ctx, "fraud", WebhookInput{Mode: ptr("enforce")}); err != nil || v.Mode != ModeEnforce {
		t.Fatalf("promotion: %+v (%v)", v.Webhook, err)
	}
	if v, err := a.AddWebhook(ctx, WebhookInput{Name: ptr("New check"), ConnectionConfigKey: ptr("c"), Mode: ptr("shadow")}); err != nil || v.Mode != ModeShadow {
		t.Fatalf("add in shadow mode: %+v (%v)", v.Webhook, err)
	}
	vs, err = a.ReplaceWebhooks(ctx, []WebhookInput{{Key: ptr("new_check"), Name: ptr("New check"), ConnectionConfigKey: ptr("c")}})
	if err != nil || vs[0].Mode != ModeEnforce {
		t.Fatalf("PUT without mode: %+v (%v), want enforce", vs, err)
	}

	before := store.set.Version
	for _, c := range []struct {
		name string
		call func() error
		loc  []any
	}{
		{"PUT", func() error {
			_, err := a.ReplaceWebhooks(ctx, []WebhookInput{{Key: ptr("x"), Name: ptr("X"), ConnectionConfigKey: ptr("c"), Mode: ptr("observe")}})
			return err
		}, []any{"body", 0, "mode"}},
		{"add", func() error {
			_, err := a.AddWebhook(ctx, WebhookInput{Name: ptr("X"), ConnectionConfigKey: ptr("c"), Mode: ptr("Shadow")})
			return err
		}, []any{"body", "mode"}},
		{"PATCH", func() error {
			_, err := a.PatchWebhook(ctx, "new_check", WebhookInput{Mode: ptr("")})
			return err
		}, []any{"body", "mode"}},
	} {
		var v *ValidationError
		if err := c.call(); !errors.As(err, &v) || !slices.Equal(v.Fields[0].Loc, c.loc) || v.Fields[0].Type != "type_error.enum" {
			t.Errorf("%s with a bad mode: %v, want a 422 at %v", c.name, err, c.loc)
		}
	}
	if store.set.Version != before {
		t.Fatal("a refused change wrote the webhook set")
	}
}

// Shadow webhooks are in the snapshot (so they are called) but only enforce
// ones decide where a request goes: with none in scope it goes where a
// request without webhooks goes.
func TestAdmissionWithShadows(t *testing.T) {
	now := time.Now()
	enforce := Webhook{Key: "crm", Name: "CRM", Mode: ModeEnforce}
	erasureOnly := Webhook{Key: "erase", Name: "Erase", Mode: ModeEnforce, PolicyActions: []string{"erasure"}}
	shadow := Webhook{Key: "fraud", Name: "Fraud", Mode: ModeShadow}
	for _, c := range []struct {
		name     string
		manual   bool
		hooks    []Webhook
		wantEv   Event
		wantKeys []string
		wantText []string
	}{
		{"enforce and shadow", true, []Webhook{enforce, shadow}, EventAwaitWebhooks, []string{"crm", "fraud"},
			[]string{"Triggered pre-approval webhooks: CRM, Fraud (shadow)"}},
		{"shadow only", true, []Webhook{shadow}, EventAwaitReview, []string{"fraud"},
			[]string{"Request submitted: awaiting manual review", "Triggered pre-approval webhooks: Fraud (shadow)"}},
		{"enforce out of scope, shadow in", true, []Webhook{erasureOnly, shadow}, EventAwaitReview, []string{"fraud"},
			[]string{"No pre-approval webhook applies to access requests", "Triggered pre-approval webhooks: Fraud (shadow)"}},
		{"no manual approval", false, []Webhook{enforce, shadow}, EventAutoApprove, nil,
			[]string{"Request auto-approved: manual approval not required"}},
	} {
		u := &Requests{RequireManualApproval: c.manual}
		ev, snap, entries := u.admission("access", WebhookConfig{Webhooks: c.hooks}, now)
		var keys, texts []string
		for _, w := range snap {
			keys = append(keys, w.Key)
			if w.Shadow() != (w.Key == "fraud") {
				t.Errorf("%s: %s recorded in mode %q", c.name, w.Key, w.Mode)
			}
		}
		for _, e := range entries {
			texts = append(texts, e.Message())
		}
		if ev != c.wantEv || !slices.Equal(keys, c.wantKeys) || !slices.Equal(texts, c.wantText) {
			t.Errorf("%s: %s, snapshot %v, timeline %q; want %s, %v, %q", c.name, ev, keys, texts, c.wantEv, c.wantKeys, c.wantText)
		}
	}
}

// shadowReplies is a request awaiting an enforce webhook "e" and a shadow one "s".
func shadowReplies(t *testing.T, status Status) (*Replies, *memReplyStore) {
	t.Helper()
	u, store, _, tokens := newReplies("e", "s")
	addRequest(store, tokens, "pri_1", status, "e", "s")
	store.reqs["pri_1"].Webhooks[1].Mode = ModeShadow
	return u, store
}

// A shadow verdict never decides: an enforce eligible reply approves whatever
// the shadow said, and the shadow's verdict stays on the timeline.
func TestShadowVerdictDecidesNothing(t *testing.T) {
	ctx := context.Background()
	u, store := shadowReplies(t, StatusAwaitingPreApproval)
	if err := u.Reply(ctx, "pri_1/s", "pri_1", WebhookNotEligible); err != nil {
		t.Fatal(err)
	}
	if r := store.reqs["pri_1"]; r.Status != StatusAwaitingPreApproval || r.Webhooks[1].Reply != WebhookNotEligible {
		t.Fatalf("after the shadow's not eligible: %s, %+v", r.Status, r.Webhooks[1])
	}
	if err := u.Reply(ctx, "pri_1/e", "pri_1", WebhookEligible); err != nil {
		t.Fatal(err)
	}
	r := store.reqs["pri_1"]
	var texts []string
	for _, e := range r.Activity {
		texts = append(texts, e.Action()+": "+e.Message())
	}
	want := []string{
		"pre_approval_shadow_reply: Shadow webhook 'Hook s' responded: not eligible",
		"pre_approval_eligible: Pre-approval webhook 'Hook e' responded: eligible",
		"approved: Request auto-approved by pre-approval webhooks",
	}
	if r.Status != StatusApproved || !slices.Equal(texts, want) {
		t.Fatalf("status %s, timeline %q; want approved, %q", r.Status, texts, want)
	}
}

// A shadow reply after the decision is recorded and answered, once; a
// different answer after it is refused as for any webhook.
func TestLateShadowReply(t *testing.T) {
	ctx := context.Background()
	for _, st := range []Status{StatusApproved, StatusDenied, StatusPreApprovalNotEligible} {
		u, store := shadowReplies(t, st)
		if err := u.Reply(ctx, "pri_1/s", "pri_1", WebhookEligible); err != nil {
			t.Fatalf("%s: late shadow reply: %v", st, err)
		}
		r := store.reqs["pri_1"]
		if r.Status != st || r.Webhooks[1].Reply != WebhookEligible || len(r.Activity) != 1 || r.Activity[0].Kind != KindShadowEligible {
			t.Fatalf("%s: after a late shadow reply: %s, %+v, %+v", st, r.Status, r.Webhooks[1], r.Activity)
		}
		if err := u.Reply(ctx, "pri_1/s", "pri_1", WebhookEligible); err != nil || store.writes != 1 {
			t.Fatalf("%s: the same reply again: %v, %d writes", st, err, store.writes)
		}
		var bad *BadRequestError
		if err := u.Reply(ctx, "pri_1/s", "pri_1", WebhookNotEligible); !errors.As(err, &bad) {
			t.Fatalf("%s: another answer: %v, want 400", st, err)
		}
		if err := u.Reply(ctx, "pri_1/e", "pri_1", WebhookEligible); !errors.As(err, &bad) {
			t.Fatalf("%s: a late enforce reply: %v, want 400 as before", st, err)
		}
	}
}

// A shadow webhook that fails never holds the request: it stays awaiting its
// enforce webhook, and the failure says it does not count. A shadow webhook
// is still called once the request is decided.
func TestShadowDeliveries(t *testing.T) {
	fail := CallResult{StatusCode: 503, Retryable: true, Reason: "HTTP 503"}
	u, store, _ := newDispatchFixture(StatusAwaitingPreApproval, WebhookPending, fail)
	store.reqs["pri_1"].Webhooks[1].Mode = ModeShadow
	d := Delivery{ID: "pri_1:hook", PrivacyRequestID: "pri_1", WebhookKey: "hook"}
	if out, err := deliver(u, d, u.MaxAttempts); err != nil || out.Kind != OutcomeFailed {
		t.Fatalf("last attempt: %+v (%v)", out, err)
	}
	r := store.reqs["pri_1"]
	want := "Pre-approval webhook 'Hook' failed after 3 attempts: HTTP 503 (shadow, not counted)"
	if r.Status != StatusAwaitingPreApproval || r.Webhooks[1].Delivery != WebhookFailed || len(r.Activity) != 1 || r.Activity[0].Message() != want {
		t.Fatalf("after the shadow failed: %s, %+v, %+v", r.Status, r.Webhooks[1], r.Activity)
	}

	for _, st := range []Status{StatusApproved, StatusDenied} {
		u, store, caller := newDispatchFixture(st, WebhookPending, CallResult{OK: true, StatusCode: 200})
		store.reqs["pri_1"].Webhooks[1].Mode = ModeShadow
		if out, err := deliver(u, d, 1); err != nil || out.Kind != OutcomeDelivered || caller.calls != 1 {
			t.Fatalf("%s: shadow delivery %+v (%v), %d calls", st, out, err, caller.calls)
		}
		if r := store.reqs["pri_1"]; r.Status != st || r.Webhooks[1].Delivery != WebhookCalled {
			t.Fatalf("%s: after the call: %s, %+v", st, r.Status, r.Webhooks[1])
		}
	}
}

// The reconciler and the review deadline never wait for a shadow webhook: a
// request whose enforce webhooks all replied eligible is approved, the
// deadline names only the silent enforce webhooks, a pending request with
// shadows only is an admin's, and a shadow's lost delivery alone is not
// enqueued again.
func TestReconcilerIgnoresShadows(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	shadow := func(w SnapshotWebhook) SnapshotWebhook { w.Mode = ModeShadow; return w }
	triggered := []ActivityEntry{{At: now.Add(-50 * time.Hour), Kind: KindTriggered}}
	store := newDeadlineStore(
		due(&PrivacyRequest{ID: "complete", Status: StatusAwaitingPreApproval, CreatedAt: now.Add(-time.Hour),
			Webhooks: []SnapshotWebhook{withState("e", "E", WebhookEligible), shadow(withState("s", "S", WebhookCalled))}}, now),
		due(&PrivacyRequest{ID: "overdue", Status: StatusAwaitingPreApproval, CreatedAt: now.Add(-50 * time.Hour), Activity: triggered,
			Webhooks: []SnapshotWebhook{withState("e", "E", WebhookCalled), shadow(withState("s", "S", WebhookCalled))}}, now),
		due(&PrivacyRequest{ID: "shadow-only", Status: StatusPending, CreatedAt: now.Add(-50 * time.Hour), Activity: triggered,
			Webhooks: []SnapshotWebhook{shadow(withState("s", "S", WebhookPending))}}, now),
	)
	rec := newReconciler(store, 48*time.Hour, now, "e", "s")
	res, err := rec.Run(context.Background())
	if err != nil || res != (ReconcileResult{Approved: 1, Moved: 1, Postponed: 1}) {
		t.Fatalf("run %+v (%v)", res, err)
	}
	if r := store.reqs["complete"]; r.Status != StatusApproved {
		t.Errorf("complete: %s, want approved without the shadow's reply", r.Status)
	}
	r := store.reqs["overdue"]
	last := r.Activity[len(r.Activity)-1]
	if r.Status != StatusPending || last.Message() != "Review deadline of 48h0m0s passed with no reply from pre-approval webhooks: E" {
		t.Errorf("overdue: %s, %q", r.Status, last.Message())
	}
	if r := store.reqs["shadow-only"]; r.DueAt != nil || r.Status != StatusPending {
		t.Errorf("shadow only: %s, due %v; want pending, out of the index", r.Status, r.DueAt)
	}
	if q := rec.Deliveries.(*recordingQueue); len(q.deliveries) != 0 {
		t.Errorf("enqueued %+v for a shadow", q.deliveries)
	}
	hooks := []SnapshotWebhook{shadow(withState("s", "S", WebhookPending)), withState("e", "E", WebhookPending)}
	if got := undelivered(&PrivacyRequest{Webhooks: hooks}); !slices.Equal(got, []string{"s", "e"}) {
		t.Errorf("lost with an enforce webhook: %v, want both", got)
	}
	if got := undelivered(&PrivacyRequest{Webhooks: hooks[:1]}); got != nil {
		t.Errorf("lost shadow alone: %v, want none", got)
	}
}

// A re-run needs an enforce webhook in scope: shadow webhooks alone would
// leave the request awaiting nothing that decides.
func TestRerunNeedsAnEnforceWebhook(t *testing.T) {
	reqs, store, lister := newRerun("s")
	lister.hooks[0].Mode = ModeShadow
	store.reqs[rerunID1] = &PrivacyRequest{ID: rerunID1, Status: StatusPending, PolicyAction: "access"}
	res, err := reqs.RetryPreApproval(context.Background(), Decision{IDs: []string{rerunID1}, Actor: "admin"})
	if err != nil || len(res.Failed) != 1 || store.reqs[rerunID1].Status != StatusPending {
		t.Fatalf("re-run with a shadow webhook only: %+v (%v)", res, err)
	}
}
