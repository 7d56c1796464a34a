package keys

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// ReviewScope is the only scope a reply token carries.
const ReviewScope = "privacy-request:review"

// MaxTokenLen is the largest token Verify will parse (4 KiB).
const MaxTokenLen = 4096

var (
	// ErrInvalidToken covers every refusal except expiry: malformed, wrong
	// algorithm, unknown kid, failed decryption, wrong payload shape or scope.
	ErrInvalidToken = errors.New("invalid reply token")
	// ErrUnknownKID is the refusal of a token whose key is not in the key
	// set (wrapped in ErrInvalidToken): a holder may reload the set, the key
	// may be new since it was read.
	ErrUnknownKID = errors.New("unknown kid")
	// ErrTokenExpired is returned only for a token that is otherwise valid.
	ErrTokenExpired = errors.New("reply token expired")
)

// Claims is the payload of a reply token.
type Claims struct {
	WebhookKey       string   `json:"webhook_id"`
	PrivacyRequestID string   `json:"privacy_request_id"`
	Scopes           []string `json:"scopes"`
	IssuedAt         int64    `json:"iat"`
	ExpiresAt        int64    `json:"exp"`
	// Run is the request's pre-approval run the call was made in (absent
	// for the first run), so a reply to a call of an earlier run is told apart.
	Run int `json:"run,omitempty"`
}

// Tokens mints reply tokens with the current key and verifies them with the
// current or previous key.
type Tokens struct {
	ks  KeySet
	ttl time.Duration
	now func() time.Time
}

// NewTokens returns a Tokens with the given key set, token lifetime and clock
// (time.Now when nil).
func NewTokens(ks KeySet, ttl time.Duration, now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	return &Tokens{ks: ks, ttl: ttl, now: now}
}

// Mint returns a compact JWE authorising replies for one webhook and one
// privacy request, in its first pre-approval run.
func (t *Tokens) Mint(webhookKey, privacyRequestID string) (string, error) {
	return t.MintReply(webhookKey, privacyRequestID, 0)
}

// MintReply is Mint for pre-approval run run of the request.
func (t *Tokens) MintReply(webhookKey, privacyRequestID string, run int) (string, error) {
	if webhookKey == "" || privacyRequestID == "" {
		return "", errors.New("mint reply token: webhook key and privacy request id are required")
	}
	if t.ks.Current.secret == nil {
		return "", errors.New("mint reply token: key set has no current key")
	}
	if t.ttl < time.Second {
		return "", fmt.Errorf("mint reply token: ttl %s is shorter than one second", t.ttl)
	}
	iat := t.now().Unix()
	payload, err := json.Marshal(Claims{
		WebhookKey:       webhookKey,
		PrivacyRequestID: privacyRequestID,
		Scopes:           []string{ReviewScope},
		IssuedAt:         iat,
		ExpiresAt:        iat + int64(t.ttl/time.Second),
		Run:              run,
	})
	if err != nil {
		return "", fmt.Errorf("mint reply token: %w", err)
	}
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{
		Algorithm: jose.DIRECT,
		Key:       t.ks.Current.secret[:],
		KeyID:     t.ks.Current.ID,
	}, nil)
	if err != nil {
		return "", fmt.Errorf("mint reply token: %w", err)
	}
	obj, err := enc.Encrypt(payload)
	if err != nil {
		return "", fmt.Errorf("mint reply token: %w", err)
	}
	return obj.CompactSerialize()
}

// Verify decrypts and checks a reply token. It returns ErrTokenExpired only
// for a token that would otherwise be accepted, and ErrInvalidToken (possibly
// wrapped with a short cause) for everything else.
func (t *Tokens) Verify(token string) (Claims, error) {
	if len(token) > MaxTokenLen {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, MaxTokenLen)
	}
	if err := checkCompact(token); err != nil {
		return Claims{}, fmt.Errorf("%w: %s", ErrInvalidToken, err)
	}
	obj, err := jose.ParseEncrypted(token, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return Claims{}, fmt.Errorf("%w: malformed or disallowed algorithm", ErrInvalidToken)
	}
	key, ok := t.ks.lookup(obj.Header.KeyID)
	if !ok {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, ErrUnknownKID)
	}
	payload, err := obj.Decrypt(key.secret[:])
	if err != nil {
		return Claims{}, fmt.Errorf("%w: decryption failed", ErrInvalidToken)
	}
	c, err := parseClaims(payload)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %s", ErrInvalidToken, err)
	}
	if t.now().Unix() >= c.ExpiresAt {
		return Claims{}, ErrTokenExpired
	}
	return c, nil
}

// checkCompact insists on the exact compact form we mint: five parts of
// canonical base64url, the encrypted-key part empty. go-jose alone would also
// accept the JSON serialization, strip whitespace, ignore a non-empty
// encrypted key under "dir" and ignore non-zero trailing base64 bits, each of
// which would let a third party alter a token without it failing. A part is
// canonical when it re-encodes to itself: even a Strict decoder skips \r and
// \n (found by FuzzVerify).
func checkCompact(token string) error {
	parts := strings.Split(token, ".")
	if len(parts) != 5 {
		return errors.New("not a compact JWE")
	}
	if parts[1] != "" {
		return errors.New("encrypted key must be empty for alg dir")
	}
	for i, p := range parts {
		if i == 1 {
			continue
		}
		if p == "" {
			return fmt.Errorf("part %d is empty", i+1)
		}
		if b, err := base64.RawURLEncoding.DecodeString(p); err != nil || base64.RawURLEncoding.EncodeToString(b) != p {
			return fmt.Errorf("part %d is not canonical base64url", i+1)
		}
	}
	return nil
}

// claimsJSON uses pointers so a missing field is told apart from a zero one.
type claimsJSON struct {
	WebhookKey       *string   `json:"webhook_id"`
	PrivacyRequestID *string   `json:"privacy_request_id"`
	Scopes           *[]string `json:"scopes"`
	IssuedAt         *int64    `json:"iat"`
	ExpiresAt        *int64    `json:"exp"`
	Run              *int      `json:"run"`
}

func parseClaims(payload []byte) (Claims, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	var in claimsJSON
	if err := dec.Decode(&in); err != nil {
		return Claims{}, errors.New("payload is not the expected JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return Claims{}, errors.New("trailing data after payload")
	}
	switch {
	case in.WebhookKey == nil || *in.WebhookKey == "":
		return Claims{}, errors.New("missing webhook_id")
	case in.PrivacyRequestID == nil || *in.PrivacyRequestID == "":
		return Claims{}, errors.New("missing privacy_request_id")
	case in.Scopes == nil || !slices.Contains(*in.Scopes, ReviewScope):
		return Claims{}, fmt.Errorf("scopes must include %s", ReviewScope)
	case in.IssuedAt == nil:
		return Claims{}, errors.New("missing iat")
	case in.ExpiresAt == nil:
		return Claims{}, errors.New("missing exp")
	case *in.ExpiresAt <= *in.IssuedAt:
		return Claims{}, errors.New("exp must be after iat")
	case in.Run != nil && *in.Run < 1:
		return Claims{}, errors.New("run must be at least 1 when present")
	}
	run := 0
	if in.Run != nil {
		run = *in.Run
	}
	return Claims{
		Run:              run,
		WebhookKey:       *in.WebhookKey,
		PrivacyRequestID: *in.PrivacyRequestID,
		Scopes:           *in.Scopes,
		IssuedAt:         *in.IssuedAt,
		ExpiresAt:        *in.ExpiresAt,
	}, nil
}
