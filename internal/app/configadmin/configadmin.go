// Package configadmin builds the connection and webhook use cases (the
// config table and the KMS key that seals connection secrets): the admin
// API's, and the dispatcher's delivery targets.
package configadmin

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/stores"
	"github.com/pregate/pregate/internal/gate"
	"github.com/pregate/pregate/internal/secrets"
	"github.com/pregate/pregate/internal/webhook"
)

// New builds the connection and webhook use cases; the dispatcher uses its
// DeliveryTarget.
func New(d app.Deps) *gate.Admin {
	allowInsecure := d.Config.AllowInsecureWebhookURLs
	return &gate.Admin{
		Store:            stores.Config(d),
		Sealer:           secrets.NewKMS(kms.NewFromConfig(d.AWS), d.Config.SecretsKeyID),
		Now:              d.Now,
		NewSigningSecret: webhook.NewSigningSecret,
		CheckURL: func(ctx context.Context, url string) error {
			return webhook.CheckURL(ctx, url, allowInsecure, d.Resolver)
		},
	}
}
