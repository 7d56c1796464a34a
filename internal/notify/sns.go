// Package notify sends the admins' notifications (gate.Notifier) to an SNS
// topic; its subscriptions (an email address set by a stack parameter) pass
// them on.
package notify

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/pregate/pregate/internal/gate"
)

var _ gate.Notifier = (*SNS)(nil)

// Publisher is the one SNS call the notifier makes.
type Publisher interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// SNS publishes each notification to one topic. The kind, the time and the
// request id travel as message attributes, so a subscriber can filter on
// the kind (an SNS subscription filter policy) without parsing the text.
type SNS struct {
	client   Publisher
	topicARN string
}

// NewSNS publishes to topicARN.
func NewSNS(client Publisher, topicARN string) *SNS { return &SNS{client: client, topicARN: topicARN} }

// The message attributes a notification carries.
const (
	AttrKind             = "kind"
	AttrAt               = "at"
	AttrPrivacyRequestID = "privacy_request_id"
)

// maxSubject is SNS's limit on an email subject.
const maxSubject = 100

// Notify publishes n.
func (s *SNS) Notify(ctx context.Context, n gate.Notification) error {
	attrs := map[string]types.MessageAttributeValue{
		AttrKind: stringAttr(n.Kind),
		AttrAt:   stringAttr(gate.FormatTime(n.At)),
	}
	if n.PrivacyRequestID != "" {
		attrs[AttrPrivacyRequestID] = stringAttr(n.PrivacyRequestID)
	}
	subject := n.Subject
	if len(subject) > maxSubject {
		subject = subject[:maxSubject]
	}
	_, err := s.client.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(s.topicARN), Subject: aws.String(subject), Message: aws.String(n.Message), MessageAttributes: attrs,
	})
	if err != nil {
		return fmt.Errorf("publish %s notification: %w", n.Kind, err)
	}
	return nil
}

func stringAttr(v string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}
