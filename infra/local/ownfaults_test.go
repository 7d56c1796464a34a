package local_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A webhook cannot be configured on a connection without secrets (422); one
// whose connection lost its secrets anyway (a bad restore) fails its
// delivery at once: the request ends pending with the reason on its
// timeline, instead of waiting on a delivery nothing would ever make.
func TestWebhookWithoutSecretsFailsItsDelivery(t *testing.T) {
	c := admin(t)
	bare := unique("bareconn")
	c.must(200, "PATCH", "/connection", []map[string]any{{"key": bare, "name": "Conn " + bare, "connection_type": "https", "access": "read"}}, nil)
	hook := unique("bare")
	status, raw := c.do("PUT", "/dsr/webhook/pre_approval", []map[string]any{{"key": hook, "name": "Hook " + hook, "connection_config_key": bare}})
	if status != 422 || !strings.Contains(string(raw), "has no secrets") {
		t.Fatalf("webhook on a connection without secrets: %d %s", status, raw)
	}

	v := newValidator(t, 200)
	c.validatorWebhook(v, hook)
	var one webhookOut
	c.must(200, "GET", "/dsr/webhook/pre_approval/"+hook, nil, &one)
	conn := one.ConnectionConfig.Key
	sys := system(t)
	table := sys.Stack.Resources["ConfigTable"].Ref
	_, err := dynamodb.NewFromConfig(sys.AWS).UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: &table,
		Key:              map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "CONNECTION"}, "sk": &types.AttributeValueMemberS{Value: conn}},
		UpdateExpression: aws.String("REMOVE secrets_sealed, secrets_url, secrets_has_headers")})
	if err != nil {
		t.Fatal(err)
	}

	id, _ := c.submit()
	var got dispatchedRequest
	waitUntil(t, 30*time.Second, func() bool {
		c.must(200, "GET", "/privacy-request/"+id, nil, &got)
		return got.Status == "pending"
	})
	if len(got.Webhooks) != 1 || got.Webhooks[0].State != "failed" || len(v.received()) != 0 {
		t.Fatalf("request %+v, %d calls", got, len(v.received()))
	}
	var act activityOut
	c.must(200, "GET", "/privacy-request/"+id+"/activity", nil, &act)
	want := "Pre-approval webhook 'Hook " + hook + "' failed: its connection '" + conn + "' has no secrets"
	if !hasActivity(act, "pre_approval_webhook_failed", want) {
		t.Fatalf("no %q in %+v", want, act.Items)
	}
}
