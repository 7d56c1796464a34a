package gate

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/pregate/pregate/internal/logkey"
)

// VerificationMail is one identity verification code to mail.
type VerificationMail struct {
	To               string // the request's email identity
	Code             string // the 6-digit code
	PrivacyRequestID string
}

// CodeSender delivers a 6-digit identity verification code.
type CodeSender interface {
	SendVerificationCode(ctx context.Context, m VerificationMail) error
}

// CodeTTL and MaxCodeAttempts bound a verification code.
const (
	CodeTTL         = 15 * time.Minute
	MaxCodeAttempts = 5
)

// The verification texts.
const (
	msgEmailForVerification = "An email identity is required for identity verification"
	msgWrongCode            = "Incorrect identification code. Enter a valid code!"
	msgCodeSpent            = "Too many incorrect codes: this code no longer works. Submit a new request."
	msgCodeExpired          = "The identification code has expired. Submit a new request."
	msgCodeNotSent          = "The identity verification code could not be sent, so the request was not created. Try again later."
)

func newCode() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000)) // crypto/rand never fails (Go ≥ 1.24)
	return fmt.Sprintf("%06d", n.Int64())
}

// hashCode binds a code to its request, so a stored hash says nothing about another request.
func hashCode(id, code string) string {
	sum := sha256.Sum256([]byte(id + ":" + code))
	return hex.EncodeToString(sum[:])
}

// Verify checks a data subject's code and, when right, admits the request
// as a fresh submission would be.
func (u *Requests) Verify(ctx context.Context, id, code string) (*PrivacyRequest, error) {
	var cf *ConflictError
	for range maxRetries {
		r, err := u.get(ctx, id)
		if err != nil {
			return nil, err
		}
		if r.Status != StatusIdentityUnverified || r.Code == nil {
			return nil, &BadRequestError{Msg: fmt.Sprintf("Invalid identity verification request. Privacy request '%s' status = %s.", id, r.Status)}
		}
		now := u.now()
		switch {
		case r.Code.Attempts >= MaxCodeAttempts:
			return nil, &ForbiddenError{Msg: msgCodeSpent}
		case now.After(r.Code.ExpiresAt):
			return nil, &BadRequestError{Msg: msgCodeExpired}
		}
		// The try is counted before the code is compared, conditioned on
		// the count read: of concurrent calls that read the same count,
		// one compares and the others read again, so no more than
		// MaxCodeAttempts codes are ever compared.
		err = u.Store.CountCodeTry(ctx, id, r.Code.Attempts)
		if errors.As(err, &cf) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare([]byte(hashCode(id, code)), []byte(r.Code.Hash)) != 1 {
			u.Log.InfoContext(ctx, "wrong verification code", logkey.PrivacyRequestID, id, logkey.Attempt, r.Code.Attempts+1)
			if r.Code.Attempts+1 >= MaxCodeAttempts {
				return nil, &ForbiddenError{Msg: msgCodeSpent}
			}
			return nil, &ForbiddenError{Msg: msgWrongCode}
		}
		hooks, err := u.listWebhooks(ctx)
		if err != nil {
			return nil, err
		}
		ev, snapshot, entries := u.admission(r.PolicyAction, hooks, now)
		to, err := Next(r.Status, ev)
		if err != nil {
			return nil, err
		}
		c := Change{ID: id, From: r.Status, To: to, At: now, IdentityVerified: true, Webhooks: snapshot, WebhooksVersion: hooks.Version,
			Approved: to == StatusApproved,
			Activity: append([]ActivityEntry{{At: now, Kind: KindIdentityVerified}}, entries...)}
		out, err := u.Store.Apply(ctx, c)
		if errors.As(err, &cf) {
			continue
		}
		if err != nil {
			return nil, err
		}
		u.Log.InfoContext(ctx, "identity verified", logkey.PrivacyRequestID, id, logkey.Status, string(out.Status))
		return out, nil
	}
	return nil, fmt.Errorf("request %s: status kept changing after %d attempts", id, maxRetries)
}
