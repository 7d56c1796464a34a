// Package identitykey reads the key of the identity hash (the identity
// search index) from Secrets Manager, for the functions that write or
// search that index: the public API (submission) and the admin API.
package identitykey

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/config"
	"github.com/pregate/pregate/internal/gate"
)

// Load reads the key once, at cold start.
func Load(ctx context.Context, d app.Deps) (gate.IdentityKey, error) {
	if err := config.Require("IDENTITY_HASH_SECRET_ID", d.Config.IdentityHashSecretID); err != nil {
		return nil, err
	}
	out, err := secretsmanager.NewFromConfig(d.AWS).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &d.Config.IdentityHashSecretID})
	if err != nil {
		return nil, fmt.Errorf("read the identity hash key: %w", err)
	}
	if out.SecretString == nil || len(*out.SecretString) < 32 {
		return nil, fmt.Errorf("the identity hash key %s is shorter than 32 characters", d.Config.IdentityHashSecretID)
	}
	return gate.IdentityKey(*out.SecretString), nil
}
