package validator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of a Verifier.
const (
	// DefaultTolerance is how far webhook-timestamp may be from the
	// validator's clock, either way, as the Standard Webhooks libraries do.
	DefaultTolerance = 5 * time.Minute
	// DefaultMaxBodyBytes caps the body read by ParseRequest; the gate's
	// calls are a few KiB.
	DefaultMaxBodyBytes = 1 << 20
)

// The kinds of refused calls; every error of Verify and ParseRequest matches
// exactly one of them with errors.Is.
var (
	// ErrBadSignature: webhook-signature is missing or none of its v1
	// signatures matches the body under any of the secrets.
	ErrBadSignature = errors.New("bad signature")
	// ErrStaleTimestamp: webhook-timestamp is further than the tolerance
	// from now, in the past (a replay) or in the future.
	ErrStaleTimestamp = errors.New("stale timestamp")
	// ErrMalformedHeader: webhook-id or webhook-timestamp is missing or
	// malformed, or a reply-to header is missing or unusable.
	ErrMalformedHeader = errors.New("malformed header")
	// ErrMalformedBody: the body is not the JSON of a pre-approval call.
	ErrMalformedBody = errors.New("malformed body")
	// ErrBodyTooLarge: the body is over the Verifier's MaxBodyBytes.
	ErrBodyTooLarge = errors.New("body too large")
)

// CallError is a refused call: Kind is one of the Err… values above, Detail
// says what exactly (it never holds a secret or a signature).
type CallError struct {
	Kind   error
	Detail string
}

func (e *CallError) Error() string { return "pre-approval call: " + e.Kind.Error() + ": " + e.Detail }
func (e *CallError) Unwrap() error { return e.Kind }

func refuse(kind error, format string, args ...any) error {
	return &CallError{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// Call is one pre-approval call, checked.
type Call struct {
	// WebhookID is the webhook-id header: the same on every retry of one
	// delivery ("<privacy request id>:<webhook key>").
	WebhookID string `json:"-"`
	// SentAt is the webhook-timestamp header.
	SentAt time.Time `json:"-"`

	PrivacyRequestID     string         `json:"privacy_request_id"`
	PrivacyRequestStatus string         `json:"privacy_request_status"` // when the call was sent
	Direction            string         `json:"direction"`              // "two_way"
	CallbackType         string         `json:"callback_type"`          // "pre_approval"
	Identity             Identity       `json:"identity"`
	PolicyAction         string         `json:"policy_action"` // access, erasure, consent or update
	PrivacyRequest       PrivacyRequest `json:"privacy_request"`
	Timestamp            time.Time      `json:"timestamp"`

	// ReplyTo says where and with which token to answer; it stays usable
	// after the call (the token lives 60 h by default), so a validator may
	// keep it and answer later with a Replier.
	ReplyTo ReplyTo `json:"-"`
	// Header is the call's headers as received, for a validator that also
	// checks the connection's Authorization or custom headers.
	Header http.Header `json:"-"`
	// Body is the signed body as received, for fields this type omits.
	Body []byte `json:"-"`
}

// Identity is the data subject's identity; empty when not given.
type Identity struct {
	Email       string `json:"email"`
	PhoneNumber string `json:"phone_number"`
}

// PrivacyRequest is the privacy_request object of the body.
type PrivacyRequest struct {
	ID                 string     `json:"id"`
	Status             string     `json:"status"`
	ExternalID         *string    `json:"external_id"`
	RequestedAt        time.Time  `json:"requested_at"`
	IdentityVerifiedAt *time.Time `json:"identity_verified_at"`
	Policy             Policy     `json:"policy"`
}

// Policy is the request's policy.
type Policy struct {
	Key   string `json:"key"`
	Name  string `json:"name"`
	Rules []struct {
		ActionType string `json:"action_type"`
	} `json:"rules"`
}

// Verifier checks calls against a webhook's signing secrets. Its fields may
// be changed before first use; a Verifier is safe for concurrent use.
type Verifier struct {
	keys [][]byte
	// Tolerance is how far webhook-timestamp may be from Now; DefaultTolerance if zero.
	Tolerance time.Duration
	// MaxBodyBytes caps the body ParseRequest reads; DefaultMaxBodyBytes if zero.
	MaxBodyBytes int64
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// NewVerifier returns a Verifier accepting a call signed with any of
// secrets: pass the new and the previous secret while rotating. A secret is
// "whsec_" followed by standard base64 (the prefix may be left out).
func NewVerifier(secrets ...string) (*Verifier, error) {
	if len(secrets) == 0 {
		return nil, errors.New("validator: no signing secret")
	}
	v := &Verifier{}
	for i, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil || len(key) == 0 {
			return nil, fmt.Errorf("validator: signing secret %d is not whsec_ followed by base64", i+1)
		}
		v.keys = append(v.keys, key)
	}
	return v, nil
}

// ParseRequest reads r's body (at most MaxBodyBytes) and checks it as Verify does.
func (v *Verifier) ParseRequest(r *http.Request) (*Call, error) {
	limit := v.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, refuse(ErrMalformedBody, "reading the body: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, refuse(ErrBodyTooLarge, "over %d bytes", limit)
	}
	return v.Verify(r.Header, body)
}

// Verify checks a call given its headers and body, for validators that do
// not receive an *http.Request (e.g. behind AWS API Gateway): first the
// timestamp and the signature, then the body and the reply-to headers.
func (v *Verifier) Verify(header http.Header, body []byte) (*Call, error) {
	id, sentAt, err := v.checkSignature(header, body)
	if err != nil {
		return nil, err
	}
	c := &Call{WebhookID: id, SentAt: sentAt, Header: header, Body: body}
	if err := json.Unmarshal(body, c); err != nil {
		return nil, refuse(ErrMalformedBody, "%v", err)
	}
	if c.PrivacyRequestID == "" {
		return nil, refuse(ErrMalformedBody, "no privacy_request_id")
	}
	if c.ReplyTo, err = replyTo(header); err != nil {
		return nil, err
	}
	return c, nil
}

// checkSignature verifies the Standard Webhooks headers: webhook-signature
// holds space-separated "v1,<base64 HMAC-SHA256 of id.timestamp.body>"
// entries (several while the gate rotates secrets); other versions are
// skipped.
func (v *Verifier) checkSignature(header http.Header, body []byte) (string, time.Time, error) {
	id, ts, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" {
		return "", time.Time{}, refuse(ErrMalformedHeader, "no webhook-id")
	}
	// Digits only: ParseInt would take a sign, and 18 digits cannot overflow.
	if ts == "" || len(ts) > 18 || strings.Trim(ts, "0123456789") != "" {
		return "", time.Time{}, refuse(ErrMalformedHeader, "webhook-timestamp %q is not unix seconds", ts)
	}
	unix, _ := strconv.ParseInt(ts, 10, 64)
	sentAt := time.Unix(unix, 0)
	tolerance := v.Tolerance
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if age := now().Sub(sentAt); age > tolerance || age < -tolerance {
		return "", time.Time{}, refuse(ErrStaleTimestamp, "webhook-timestamp is %s from now, tolerance %s", age.Truncate(time.Second), tolerance)
	}
	if sigs == "" {
		return "", time.Time{}, refuse(ErrBadSignature, "no webhook-signature")
	}
	signed := []byte(id + "." + ts + ".")
	for _, key := range v.keys {
		h := hmac.New(sha256.New, key)
		h.Write(signed)
		h.Write(body)
		want := h.Sum(nil)
		for _, entry := range strings.Fields(sigs) {
			version, sig, _ := strings.Cut(entry, ",")
			if version != "v1" {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(sig)
			if err == nil && hmac.Equal(got, want) {
				return id, sentAt, nil
			}
		}
	}
	return "", time.Time{}, refuse(ErrBadSignature, "no v1 signature matches")
}

func replyTo(header http.Header) (ReplyTo, error) {
	to := ReplyTo{
		BaseURL:         header.Get("reply-to-base-url"),
		EligiblePath:    header.Get("reply-to-eligible"),
		NotEligiblePath: header.Get("reply-to-not-eligible"),
		Token:           header.Get("reply-to-token"),
	}
	if u, err := url.Parse(to.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ReplyTo{}, refuse(ErrMalformedHeader, "reply-to-base-url %q is not an http(s) URL", to.BaseURL)
	}
	// The paths are joined to the base URL: they must stay on its host.
	for name, p := range map[string]string{"reply-to-eligible": to.EligiblePath, "reply-to-not-eligible": to.NotEligiblePath} {
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
			return ReplyTo{}, refuse(ErrMalformedHeader, "%s %q is not an absolute path", name, p)
		}
	}
	if to.Token == "" {
		return ReplyTo{}, refuse(ErrMalformedHeader, "no reply-to-token")
	}
	return to, nil
}
