// Package identitykey reads the key of the identity hash (the identity
// search index) from Secrets Manager, for the functions that write or
// search that index: the public API (submission) and the admin API.
package identitykey

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/config"
	"github.com/pregate/pregate/internal/gate"
)

// readTimeout bounds one read of the key.
const readTimeout = 5 * time.Second

// Key is the identity hash key, read once per cold start. The read starts
// in the background when the function starts, so that its init does not
// wait for Secrets Manager; the first use waits for it, and a failed read
// is made again by the next use.
type Key struct {
	read func(context.Context) (gate.IdentityKey, error)
	mu   sync.Mutex // held by the read in flight
	key  gate.IdentityKey
}

var _ gate.IdentityKeys = (*Key)(nil)

// Start checks the configuration and starts reading the key.
func Start(d app.Deps) (*Key, error) {
	if err := config.Require("IDENTITY_HASH_SECRET_ID", d.Config.IdentityHashSecretID); err != nil {
		return nil, err
	}
	client := secretsmanager.NewFromConfig(d.AWS)
	return start(func(ctx context.Context) (gate.IdentityKey, error) {
		out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &d.Config.IdentityHashSecretID})
		if err != nil {
			return nil, fmt.Errorf("read the identity hash key: %w", err)
		}
		if out.SecretString == nil || len(*out.SecretString) < 32 {
			return nil, fmt.Errorf("the identity hash key %s is shorter than 32 characters", d.Config.IdentityHashSecretID)
		}
		return gate.IdentityKey(*out.SecretString), nil
	}, d.Log), nil
}

// start makes the first read in the background.
func start(read func(context.Context) (gate.IdentityKey, error), log *slog.Logger) *Key {
	k := &Key{read: read}
	k.mu.Lock()
	go func() {
		defer k.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
		defer cancel()
		if key, err := k.read(ctx); err == nil {
			k.key = key
		} else {
			log.Warn("identity hash key not read at start; the first use reads it again", "error", err.Error())
		}
	}()
	return k
}

// IdentityKey waits for the key, reading it again when the start's read failed.
func (k *Key) IdentityKey(ctx context.Context) (gate.IdentityKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != nil {
		return k.key, nil
	}
	key, err := k.read(ctx)
	if err != nil {
		return nil, err
	}
	k.key = key
	return key, nil
}
