package keys_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/keys"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// The key set the template's GenerateSecretString makes (played by the local
// stack) loads and mints tokens that verify.
func TestLoadKeySetFromProvisionedSecret(t *testing.T) {
	s, cfg := awstest.Stack(t)
	sm := secretsmanager.NewFromConfig(cfg)
	ks, err := keys.LoadKeySet(context.Background(), sm, s.Resources["ReplyTokenKeySet"].Ref)
	if err != nil {
		t.Fatal(err)
	}
	tokens := keys.NewTokens(ks, time.Hour, time.Now)
	tok, err := tokens.Mint("crm", "pri_1")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := tokens.Verify(tok); err != nil || c.WebhookKey != "crm" {
		t.Fatalf("verify: %+v %v", c, err)
	}
	if _, err := keys.LoadKeySet(context.Background(), sm, "no-such-secret"); err == nil {
		t.Fatal("want an error for a missing secret")
	}
}
