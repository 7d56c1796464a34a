package secrets_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/secrets"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func TestKMSSealBoundToContext(t *testing.T) {
	s, cfg := awstest.Stack(t)
	box := secrets.NewKMS(kms.NewFromConfig(cfg), s.Resources["SecretsKey"].Ref)
	ctx := context.Background()
	plain := []byte(`{"authorization":"Bearer top-secret"}`)
	sealed, err := box.Seal(ctx, map[string]string{"connection_key": "a"}, plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("top-secret")) {
		t.Fatal("ciphertext holds the plaintext")
	}
	opened, err := box.Open(ctx, map[string]string{"connection_key": "a"}, sealed)
	if err != nil || !bytes.Equal(opened, plain) {
		t.Fatalf("open: %v", err)
	}
	if _, err := box.Open(ctx, map[string]string{"connection_key": "b"}, sealed); err == nil {
		t.Fatal("opened under another connection's context")
	}
}
