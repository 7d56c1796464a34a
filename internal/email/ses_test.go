package email_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/email"
	"github.com/pregate/pregate/internal/gate"
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
	mail := gate.VerificationMail{To: "subject@example.com", Code: "123456", PrivacyRequestID: "pri_1"}
	if err := email.NewCodeMailer(client, from, "").SendVerificationCode(ctx, mail); err != nil {
		t.Fatal(err)
	}
	mail.Code = "654321"
	err := email.NewCodeMailer(client, "unverified@example.org", "").SendVerificationCode(ctx, mail)
	if err == nil || strings.Contains(err.Error(), "654321") {
		t.Errorf("unverified sender: want a refusal that does not show the code, got %v", err)
	}
}

// sentBody captures the JSON body of a SendEmail call as it would go on the
// wire, and answers it without sending: the emulator has no SES templates.
func sentBody(t *testing.T, template string) map[string]any {
	t.Helper()
	var body []byte
	capture := middleware.FinalizeMiddlewareFunc("capture", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		req := in.Request.(*smithyhttp.Request)
		var err error
		if body, err = io.ReadAll(req.GetStream()); err != nil {
			t.Fatal(err)
		}
		return middleware.FinalizeOutput{Result: &sesv2.SendEmailOutput{MessageId: aws.String("m-1")}}, middleware.Metadata{}, nil
	})
	client := sesv2.NewFromConfig(awstest.Endpoint(t), func(o *sesv2.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error { return s.Finalize.Add(capture, middleware.After) })
	})
	mail := gate.VerificationMail{To: "subject@example.com", Code: "042137", PrivacyRequestID: "pri_7"}
	if err := email.NewCodeMailer(client, "no-reply@example.com", template).SendVerificationCode(context.Background(), mail); err != nil {
		t.Fatal(err)
	}
	var sent map[string]any
	if err := json.Unmarshal(body, &sent); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return sent
}

func TestCodeMailerUsesTheTemplateWhenSet(t *testing.T) {
	sent := sentBody(t, "privacy-code")
	content := sent["Content"].(map[string]any)
	tpl, ok := content["Template"].(map[string]any)
	if !ok || content["Simple"] != nil || tpl["TemplateName"] != "privacy-code" {
		t.Fatalf("content %v", content)
	}
	var data map[string]string
	if err := json.Unmarshal([]byte(tpl["TemplateData"].(string)), &data); err != nil {
		t.Fatal(err)
	}
	if len(data) != 2 || data["code"] != "042137" || data["privacy_request_id"] != "pri_7" {
		t.Errorf("template data %v", data)
	}
	if sent["FromEmailAddress"] != "no-reply@example.com" || fmt.Sprint(sent["Destination"]) != "map[ToAddresses:[subject@example.com]]" {
		t.Errorf("envelope %v", sent)
	}

	plain := sentBody(t, "")["Content"].(map[string]any)
	simple, ok := plain["Simple"].(map[string]any)
	if !ok || plain["Template"] != nil || !strings.Contains(fmt.Sprint(simple["Body"]), "042137") {
		t.Errorf("no template: content %v", plain)
	}
}
