// Package email sends the gate's mail through Amazon SES v2.
package email

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/pregate/pregate/internal/gate"
)

// CodeMailer mails identity verification codes from a verified SES identity.
type CodeMailer struct {
	ses  *sesv2.Client
	from string
}

var _ gate.CodeSender = (*CodeMailer)(nil)

// NewCodeMailer sends from the given address (VERIFICATION_SENDER_EMAIL).
func NewCodeMailer(client *sesv2.Client, from string) *CodeMailer {
	return &CodeMailer{ses: client, from: from}
}

// SendVerificationCode mails the code; the code never appears in an error.
func (m *CodeMailer) SendVerificationCode(ctx context.Context, to, code string) error {
	text := "Your privacy request verification code is " + code + ". It expires in 15 minutes."
	_, err := m.ses.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: &m.from,
		Destination:      &types.Destination{ToAddresses: []string{to}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String("Your verification code")},
			Body:    &types.Body{Text: &types.Content{Data: &text}},
		}},
	})
	if err != nil {
		return fmt.Errorf("send verification email: %w", err)
	}
	return nil
}
