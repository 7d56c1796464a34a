package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SigningSecretPrefix starts every Standard Webhooks signing secret.
const SigningSecretPrefix = "whsec_"

var (
	// ErrSignatureTimestamp: the webhook-timestamp header is malformed or
	// outside the tolerance.
	ErrSignatureTimestamp = errors.New("webhook signature: timestamp missing, malformed or outside tolerance")
	// ErrSignatureMismatch: no v1 signature in the header matches any secret.
	ErrSignatureMismatch = errors.New("webhook signature: no matching signature")
)

// NewSigningSecret returns "whsec_" followed by 32 random bytes in standard
// base64.
func NewSigningSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("signing secret: %w", err)
	}
	return SigningSecretPrefix + base64.StdEncoding.EncodeToString(b[:]), nil
}

func signingKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SigningSecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, errors.New("webhook signature: signing secret is not whsec_ followed by base64")
	}
	return key, nil
}

func mac(key []byte, msgID string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msgID))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, unix, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Sign returns the webhook-signature header value for one message:
// "v1," + base64(HMAC-SHA256(key, msgID + "." + unixSeconds + "." + body)).
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := signingKey(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, msgID, ts.Unix(), body)), nil
}

// VerifySignature checks Standard Webhooks headers against any of secrets (to
// allow rotation). sigHeader may hold several space-separated signatures;
// entries other than v1 are ignored. The timestamp must be within tolerance of
// now in either direction.
func VerifySignature(secrets []string, msgID, tsHeader, sigHeader string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secrets) == 0 {
		return errors.New("webhook signature: no secrets configured")
	}
	if len(tsHeader) == 0 || len(tsHeader) > 18 || strings.Trim(tsHeader, "0123456789") != "" {
		return ErrSignatureTimestamp
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return ErrSignatureTimestamp
	}
	if d := now.Unix() - ts; d > int64(tolerance/time.Second) || -d > int64(tolerance/time.Second) {
		return ErrSignatureTimestamp
	}
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		if keys[i], err = signingKey(s); err != nil {
			return err
		}
	}
	for _, entry := range strings.Fields(sigHeader) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		for _, key := range keys {
			if hmac.Equal(got, mac(key, msgID, ts, body)) {
				return nil
			}
		}
	}
	return ErrSignatureMismatch
}
