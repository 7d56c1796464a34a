// Package email sends the gate's mail through Amazon SES v2.
package email

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/pregate/pregate/internal/gate"
)

// CodeMailer mails identity verification codes from a verified SES identity.
type CodeMailer struct {
	ses      *sesv2.Client
	from     string
	template string
}

var _ gate.CodeSender = (*CodeMailer)(nil)

// NewCodeMailer sends from the given address (VERIFICATION_SENDER_EMAIL).
// With a template name (VERIFICATION_EMAIL_TEMPLATE), the mail is that SES
// template filled with {"code", "privacy_request_id"}; without, a plain text.
func NewCodeMailer(client *sesv2.Client, from, template string) *CodeMailer {
	return &CodeMailer{ses: client, from: from, template: template}
}

// SendVerificationCode mails the code; the code never appears in an error.
func (m *CodeMailer) SendVerificationCode(ctx context.Context, v gate.VerificationMail) error {
	content, err := m.content(v)
	if err != nil {
		return err
	}
	_, err = m.ses.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: &m.from,
		Destination:      &types.Destination{ToAddresses: []string{v.To}},
		Content:          content,
	})
	if err != nil {
		return fmt.Errorf("send verification email: %w", err)
	}
	return nil
}

func (m *CodeMailer) content(v gate.VerificationMail) (*types.EmailContent, error) {
	if m.template == "" {
		text := "Your privacy request verification code is " + v.Code + ". It expires in 15 minutes."
		return &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String("Your verification code")},
			Body:    &types.Body{Text: &types.Content{Data: &text}},
		}}, nil
	}
	data, err := json.Marshal(map[string]string{"code": v.Code, "privacy_request_id": v.PrivacyRequestID})
	if err != nil {
		return nil, fmt.Errorf("template data: %w", err)
	}
	return &types.EmailContent{Template: &types.Template{TemplateName: &m.template, TemplateData: aws.String(string(data))}}, nil
}
