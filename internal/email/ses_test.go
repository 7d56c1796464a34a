package email_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/email"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func TestCodeMailerSendsFromTheVerifiedIdentity(t *testing.T) {
	cfg := awstest.Endpoint(t)
	ctx := context.Background()
	client := sesv2.NewFromConfig(cfg)
	from := awstest.UniqueName("sender") + "@example.com"
	if _, err := client.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(from)}); err != nil {
		t.Fatal(err)
	}
	if err := email.NewCodeMailer(client, from).SendVerificationCode(ctx, "subject@example.com", "123456"); err != nil {
		t.Fatal(err)
	}
	err := email.NewCodeMailer(client, "unverified@example.org").SendVerificationCode(ctx, "subject@example.com", "654321")
	if err == nil || strings.Contains(err.Error(), "654321") {
		t.Errorf("unverified sender: want a refusal that does not show the code, got %v", err)
	}
}
