// Package notices builds the admins' notifier (the SNS topic) for the
// functions that tell admins something; it is apart from internal/app so
// that only they link the SNS client.
package notices

import (
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/notify"
)

// Notifier publishes to the notification topic.
func Notifier(d app.Deps) *notify.SNS {
	return notify.NewSNS(sns.NewFromConfig(d.AWS), d.Config.NotificationTopicARN)
}

// Links are the console links notifications carry.
func Links(d app.Deps) gate.ConsoleLinks {
	return gate.ConsoleLinks{PublicBaseURL: d.Config.PublicBaseURL}
}
