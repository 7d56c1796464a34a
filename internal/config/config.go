// Package config reads the gate's settings from the environment once, into a
// typed struct, with the documented defaults and an error naming any bad value.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is every setting a handler may need. Resource names come from the
// template (or the local stack); behaviour settings have product defaults.
type Config struct {
	RequireManualApproval        bool
	IdentityVerificationRequired bool
	ReplyTokenTTL                time.Duration
	WebhookTimeout               time.Duration
	WebhookMaxAttempts           int
	WebhookBackoff               time.Duration
	// DispatchConfigTTL is how long the dispatcher keeps the webhook set,
	// connection secrets and signing secrets it read (0: one batch only).
	DispatchConfigTTL time.Duration
	ReviewDeadline    time.Duration // 0 = off
	// ReconcileAfter is RECONCILE_AFTER: how long a request that became due
	// (awaiting, pending, approved) is left to its normal path before the
	// reconciler looks at it, and the shortest backoff between its looks.
	ReconcileAfter           time.Duration
	AllowInsecureWebhookURLs bool
	PublicBaseURL            string // ends in /api/v1; empty where unused

	RequestsTable      string
	ConfigTable        string
	DeliveryLogTable   string
	DispatchQueueURL   string
	ApprovedQueueURL   string
	SecretsKeyID       string
	ReplyTokenSecretID string
	// IdentityHashSecretID is the Secrets Manager secret holding the key of
	// the identity hash (the identity search index).
	IdentityHashSecretID string
	AccessLogTable       string
	// NotificationTopicARN is the SNS topic the admins' notifications go to.
	NotificationTopicARN string

	VerificationSenderEmail string
	// VerificationEmailTemplate is the SES template the code is mailed
	// with; empty: a plain text mail.
	VerificationEmailTemplate string
	// ScopePrefix is stripped from token scopes: Cognito names them
	// "<resource server>/<scope>".
	ScopePrefix string
	// MetricsNamespace is the CloudWatch namespace of the EMF metrics; one
	// per stack, so a dev and a prod stack in one account do not mix.
	MetricsNamespace string

	// LogLevel is the lowest level logged (LOG_LEVEL: DEBUG, INFO, WARN, ERROR).
	LogLevel slog.Level
	// PublicCORSOrigins are the origins (scheme://host[:port]) whose browser
	// pages may call the public submit and verify routes; empty: none.
	PublicCORSOrigins []string
	// FinishedRequestRetention is how long a request is kept once approved
	// or denied before DynamoDB's TTL removes it; 0 keeps it forever.
	FinishedRequestRetention time.Duration
	// Console is the admin console's login: an OAuth2 public client
	// (authorization code + PKCE). Empty: the console says sign-in is not set up.
	Console ConsoleLogin
}

// ConsoleLogin is where the admin console signs in (Cognito's managed login in AWS).
type ConsoleLogin struct {
	AuthorizeURL string // CONSOLE_AUTHORIZE_URL
	TokenURL     string // CONSOLE_TOKEN_URL
	LogoutURL    string // CONSOLE_LOGOUT_URL (optional)
	ClientID     string // CONSOLE_CLIENT_ID
}

// DefaultFinishedRequestRetentionDays is FINISHED_REQUEST_RETENTION_DAYS' default.
const DefaultFinishedRequestRetentionDays = 365

// Getenv is os.Getenv's shape, so tests can pass a map.
type Getenv func(string) string

// Load parses the environment. Every problem is reported, each naming its variable.
func Load(getenv Getenv) (Config, error) {
	p := parser{getenv: getenv}
	c := Config{
		RequireManualApproval:        p.boolean("REQUIRE_MANUAL_REQUEST_APPROVAL", true),
		IdentityVerificationRequired: p.boolean("SUBJECT_IDENTITY_VERIFICATION_REQUIRED", false),
		ReplyTokenTTL:                p.duration("REPLY_TOKEN_TTL", 60*time.Hour, time.Minute),
		WebhookTimeout:               p.duration("WEBHOOK_TIMEOUT", 10*time.Second, 100*time.Millisecond),
		WebhookMaxAttempts:           p.integer("WEBHOOK_MAX_ATTEMPTS", 5, 1, 20),
		WebhookBackoff:               p.duration("WEBHOOK_BACKOFF", 5*time.Second, 0),
		DispatchConfigTTL:            p.duration("DISPATCH_CONFIG_TTL", 30*time.Second, 0),
		ReviewDeadline:               p.optionalDuration("REVIEW_DEADLINE"),
		ReconcileAfter:               p.duration("RECONCILE_AFTER", time.Minute, 100*time.Millisecond),
		AllowInsecureWebhookURLs:     p.boolean("ALLOW_INSECURE_WEBHOOK_URLS", false),
		PublicBaseURL:                p.baseURL("PUBLIC_BASE_URL"),
		RequestsTable:                getenv("REQUESTS_TABLE"),
		ConfigTable:                  getenv("CONFIG_TABLE"),
		DeliveryLogTable:             getenv("DELIVERY_LOG_TABLE"),
		DispatchQueueURL:             getenv("DISPATCH_QUEUE_URL"),
		ApprovedQueueURL:             getenv("APPROVED_QUEUE_URL"),
		SecretsKeyID:                 getenv("SECRETS_KEY_ID"),
		ReplyTokenSecretID:           getenv("REPLY_TOKEN_SECRET_ID"),
		IdentityHashSecretID:         getenv("IDENTITY_HASH_SECRET_ID"),
		AccessLogTable:               getenv("ACCESS_LOG_TABLE"),
		NotificationTopicARN:         getenv("NOTIFICATION_TOPIC_ARN"),
		VerificationSenderEmail:      getenv("VERIFICATION_SENDER_EMAIL"),
		VerificationEmailTemplate:    p.sesTemplateName("VERIFICATION_EMAIL_TEMPLATE"),
		ScopePrefix:                  getenv("SCOPE_PREFIX"),
		MetricsNamespace:             p.text("METRICS_NAMESPACE", "Pregate"),
		LogLevel:                     p.logLevel("LOG_LEVEL"),
		PublicCORSOrigins:            p.origins("PUBLIC_CORS_ORIGINS"),
		FinishedRequestRetention:     time.Duration(p.integer("FINISHED_REQUEST_RETENTION_DAYS", DefaultFinishedRequestRetentionDays, 0, 3650)) * 24 * time.Hour,
		Console: ConsoleLogin{AuthorizeURL: getenv("CONSOLE_AUTHORIZE_URL"), TokenURL: getenv("CONSOLE_TOKEN_URL"),
			LogoutURL: getenv("CONSOLE_LOGOUT_URL"), ClientID: getenv("CONSOLE_CLIENT_ID")},
	}
	if c.WebhookTimeout > MaxWebhookTimeout {
		p.fail("WEBHOOK_TIMEOUT", getenv("WEBHOOK_TIMEOUT"), fmt.Sprintf("must be at most %s (the dispatcher's Lambda timeout is %s, and it must still record the outcomes)", MaxWebhookTimeout, DispatcherTimeout))
	}
	return c, errors.Join(p.errs...)
}

// DispatcherTimeout is the dispatcher function's Lambda timeout
// (template.yaml); MaxWebhookTimeout leaves it 10 s to record a batch's
// outcomes after its calls (they run together). The template holds
// WebhookTimeout to the same bound at deploy time.
const (
	DispatcherTimeout = 60 * time.Second
	MaxWebhookTimeout = 50 * time.Second
)

// Require reports the named settings that are empty; a function calls it
// with the resources it actually uses.
func Require(pairs ...string) error {
	var errs []error
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			errs = append(errs, fmt.Errorf("%s: must be set", pairs[i]))
		}
	}
	return errors.Join(errs...)
}

type parser struct {
	getenv Getenv
	errs   []error
}

func (p *parser) fail(name, value, why string) {
	p.errs = append(p.errs, fmt.Errorf("%s=%q: %s", name, value, why))
}

func (p *parser) boolean(name string, def bool) bool {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(name, v, "must be true or false")
		return def
	}
	return b
}

func (p *parser) integer(name string, def, lo, hi int) int {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(name, v, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
		return def
	}
	return n
}

func (p *parser) duration(name string, def, min time.Duration) time.Duration {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < min {
		p.fail(name, v, fmt.Sprintf("must be a Go duration of at least %s (e.g. 10s, 48h)", min))
		return def
	}
	return d
}

func (p *parser) optionalDuration(name string) time.Duration {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" || v == "off" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		p.fail(name, v, "must be a positive Go duration (e.g. 48h) or empty")
		return 0
	}
	return d
}

func (p *parser) baseURL(name string) string {
	v := strings.TrimRight(strings.TrimSpace(p.getenv(name)), "/")
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	// The string itself must end in /api/v1: reply paths are appended to it,
	// so a query or fragment (even an empty "#") would swallow them.
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || !strings.HasSuffix(v, "/api/v1") ||
		u.RawQuery != "" || u.Fragment != "" {
		p.fail(name, v, "must be an absolute http(s) URL ending in /api/v1")
		return ""
	}
	return v
}

// sesTemplateName reports whether SES accepts v as a template name: 1 to
// 64 letters, digits, '_' or '-'. A loop, not a regexp compiled at every
// cold start of every function.
func sesTemplateName(v string) bool {
	if len(v) < 1 || len(v) > 64 {
		return false
	}
	for _, c := range []byte(v) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (p *parser) sesTemplateName(name string) string {
	v := strings.TrimSpace(p.getenv(name))
	if v != "" && !sesTemplateName(v) {
		p.fail(name, v, "must be an SES template name: 1 to 64 letters, digits, '_' or '-'")
		return ""
	}
	return v
}

func (p *parser) text(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

func (p *parser) logLevel(name string) slog.Level {
	v := strings.ToUpper(strings.TrimSpace(p.getenv(name)))
	switch v {
	case "", "INFO":
		return slog.LevelInfo
	case "DEBUG":
		return slog.LevelDebug
	case "WARN", "WARNING":
		return slog.LevelWarn
	case "ERROR":
		return slog.LevelError
	}
	p.fail(name, p.getenv(name), "must be DEBUG, INFO, WARN or ERROR")
	return slog.LevelInfo
}

// origins parses a comma-separated list of browser origins. Each is
// scheme://host[:port] exactly as a browser sends it in Origin (no path, no
// wildcard), kept in lower case; an empty list allows none.
func (p *parser) origins(name string) []string {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return nil
	}
	var out []string
	for _, o := range strings.Split(v, ",") {
		o = strings.ToLower(strings.TrimSpace(o))
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
			p.fail(name, v, "must be comma-separated origins such as https://privacy.example.com (scheme and host, optional port, no path)")
			return nil
		}
		out = append(out, o)
	}
	return out
}
