// Package secrets seals small secrets with AWS KMS: direct Encrypt
// and Decrypt under one key, bound to an encryption context.
package secrets

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/pregate/pregate/internal/gate"
)

var _ gate.Sealer = (*KMS)(nil)

// KMS is a gate.Sealer backed by one KMS key.
type KMS struct {
	client *kms.Client
	keyID  string
}

// NewKMS seals under keyID (a key id, ARN or alias).
func NewKMS(client *kms.Client, keyID string) *KMS { return &KMS{client: client, keyID: keyID} }

// Seal encrypts plaintext (at most 4 KiB) under the key.
func (k *KMS) Seal(ctx context.Context, encryptionContext map[string]string, plaintext []byte) ([]byte, error) {
	out, err := k.client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(k.keyID), Plaintext: plaintext, EncryptionContext: encryptionContext})
	if err != nil {
		return nil, fmt.Errorf("kms encrypt: %w", err)
	}
	return out.CiphertextBlob, nil
}

// Open decrypts what Seal produced with the same encryption context.
func (k *KMS) Open(ctx context.Context, encryptionContext map[string]string, sealed []byte) ([]byte, error) {
	out, err := k.client.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(k.keyID), CiphertextBlob: sealed, EncryptionContext: encryptionContext})
	if err != nil {
		return nil, fmt.Errorf("kms decrypt: %w", err)
	}
	return out.Plaintext, nil
}
