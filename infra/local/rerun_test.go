package local_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/dynamo"
)

// An admin re-runs pre-approval of a request left pending by a validator's
// outage: the validator is called again with a new delivery id and token,
// its reply approves the request, and a reply with the first run's token no
// longer counts; the archived first run takes the approved request's expiry.
func TestRetryPreApprovalAfterAnOutage(t *testing.T) {
	c := admin(t)
	v := newValidator(t, 410) // gone: fails at once, no retries
	hook := unique("rerun")
	c.validatorWebhook(v, hook)
	id, _ := c.submit()
	var got dispatchedRequest
	waitUntil(t, 30*time.Second, func() bool {
		c.must(200, "GET", "/privacy-request/"+id, nil, &got)
		return got.Status == "pending" && len(got.Webhooks) == 1 && got.Webhooks[0].State == "failed"
	})
	first := v.received()[0].header

	v.status.Store(200)
	var res struct {
		Succeeded []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"succeeded"`
		Failed []struct {
			Message string         `json:"message"`
			Data    map[string]any `json:"data"`
		} `json:"failed"`
	}
	c.must(200, "PATCH", "/privacy-request/administrate/retry-pre-approval", map[string]any{"request_ids": []string{id}}, &res)
	if len(res.Succeeded) != 1 || res.Succeeded[0].Status != "awaiting_pre_approval" || len(res.Failed) != 0 {
		t.Fatalf("re-run: %+v", res)
	}
	waitUntil(t, 30*time.Second, func() bool { return len(v.received()) == 2 })
	second := v.received()[1].header
	if second.Get("webhook-id") != id+":"+hook+":1" || second.Get("reply-to-token") == first.Get("reply-to-token") {
		t.Fatalf("re-run call: webhook-id %q (first %q), same token: %v", second.Get("webhook-id"), first.Get("webhook-id"),
			second.Get("reply-to-token") == first.Get("reply-to-token"))
	}
	status, raw := reply(t, id, "eligible", "Bearer "+first.Get("reply-to-token"))
	if status != 400 || !strings.Contains(string(raw), "re-run") {
		t.Fatalf("reply with the first run's token: %d %s", status, raw)
	}
	replyEligible(t, second)
	c.must(200, "GET", "/privacy-request/"+id, nil, &got)
	if got.Status != "approved" {
		t.Fatalf("after the re-run's reply: %+v", got)
	}
	var act activityOut
	c.must(200, "GET", "/privacy-request/"+id+"/activity", nil, &act)
	var rerun, triggered int
	for _, e := range act.Items {
		if e.Action == "status_changed" && e.Actor != nil && strings.Contains(deref(e.Message), "re-run") {
			rerun++
		}
		if e.Action == "pre_approval_webhook_triggered" {
			triggered++
		}
	}
	if rerun != 1 || triggered != 2 {
		t.Fatalf("timeline: %d re-run entries with an actor, %d triggered entries: %+v", rerun, triggered, act.Items)
	}
	// The approval's stream record gives the archived first run the
	// request's expiry.
	db := dynamodb.NewFromConfig(c.sys.AWS)
	table := c.sys.Stack.Resources["RequestsTable"].Ref
	expiresAt := func(key string) string {
		out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: key}}})
		if err != nil {
			t.Fatal(err)
		}
		n, _ := out.Item[dynamo.AttrExpires].(*types.AttributeValueMemberN)
		if n == nil {
			return ""
		}
		return n.Value
	}
	exp := expiresAt(id)
	if exp == "" {
		t.Fatal("the approved request has no expiry")
	}
	waitUntil(t, 30*time.Second, func() bool { return expiresAt(id+"#run0") == exp })
	// Decided now: a re-run fails that item.
	c.must(200, "PATCH", "/privacy-request/administrate/retry-pre-approval", map[string]any{"request_ids": []string{id}}, &res)
	if len(res.Failed) != 1 || res.Failed[0].Message != "Cannot transition status" {
		t.Fatalf("re-run of a decided request: %+v", res)
	}
}
