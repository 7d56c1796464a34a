package keys

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretGetter is the one Secrets Manager call the key set needs.
type SecretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// LoadKeySet reads the reply-token key set from Secrets Manager (once per
// cold start: a rotation reaches running functions as they are recycled, and
// the previous key keeps tokens in flight valid meanwhile).
func LoadKeySet(ctx context.Context, sm SecretGetter, secretID string) (KeySet, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &secretID})
	if err != nil {
		return KeySet{}, fmt.Errorf("read reply-token key set %s: %w", secretID, err)
	}
	if out.SecretString == nil {
		return KeySet{}, fmt.Errorf("reply-token key set %s: no SecretString", secretID)
	}
	ks, err := ParseKeySet(*out.SecretString)
	if err != nil {
		return KeySet{}, fmt.Errorf("reply-token key set %s: %w", secretID, err)
	}
	return ks, nil
}
