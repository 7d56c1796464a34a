package config

import (
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.RequireManualApproval || c.IdentityVerificationRequired || c.AllowInsecureWebhookURLs {
		t.Errorf("bool defaults wrong: %+v", c)
	}
	if c.ReplyTokenTTL != 60*time.Hour || c.WebhookTimeout != 10*time.Second || c.WebhookMaxAttempts != 5 || c.WebhookBackoff != 5*time.Second || c.ReviewDeadline != 0 ||
		c.MetricsNamespace != "Pregate" || c.DispatchConfigTTL != 30*time.Second || c.VerificationEmailTemplate != "" {
		t.Errorf("defaults wrong: %+v", c)
	}
}

func TestOverrides(t *testing.T) {
	c, err := Load(env(map[string]string{
		"REQUIRE_MANUAL_REQUEST_APPROVAL": "false", "WEBHOOK_MAX_ATTEMPTS": "3", "WEBHOOK_BACKOFF": "1s",
		"REVIEW_DEADLINE": "48h", "PUBLIC_BASE_URL": "http://127.0.0.1:3000/api/v1/", "ALLOW_INSECURE_WEBHOOK_URLS": "true",
		"METRICS_NAMESPACE": "Pregate/dev", "DISPATCH_CONFIG_TTL": "0s", "VERIFICATION_EMAIL_TEMPLATE": "privacy-code_v2",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.RequireManualApproval || c.WebhookMaxAttempts != 3 || c.WebhookBackoff != time.Second || c.ReviewDeadline != 48*time.Hour ||
		c.PublicBaseURL != "http://127.0.0.1:3000/api/v1" || !c.AllowInsecureWebhookURLs ||
		c.MetricsNamespace != "Pregate/dev" || c.DispatchConfigTTL != 0 || c.VerificationEmailTemplate != "privacy-code_v2" {
		t.Errorf("overrides not applied: %+v", c)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	cases := map[string]string{
		"REQUIRE_MANUAL_REQUEST_APPROVAL":        "maybe",
		"SUBJECT_IDENTITY_VERIFICATION_REQUIRED": "2",
		"REPLY_TOKEN_TTL":                        "forever",
		"WEBHOOK_TIMEOUT":                        "51s",
		"WEBHOOK_MAX_ATTEMPTS":                   "0",
		"WEBHOOK_BACKOFF":                        "-1s",
		"DISPATCH_CONFIG_TTL":                    "-5s",
		"REVIEW_DEADLINE":                        "soon",
		"ALLOW_INSECURE_WEBHOOK_URLS":            "yes please",
		"PUBLIC_BASE_URL":                        "ftp://x/api/v1",
		"VERIFICATION_EMAIL_TEMPLATE":            "code template",
		"LOG_LEVEL":                              "verbose",
		"PUBLIC_CORS_ORIGINS":                    "https://privacy.example.com/form",
		"FINISHED_REQUEST_RETENTION_DAYS":        "-1",
	}
	for name, value := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(env(map[string]string{name: value}))
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("want an error naming %s, got %v", name, err)
			}
		})
	}
}

func TestVerificationEmailTemplateIsAnSESName(t *testing.T) {
	for _, v := range []string{"a.b", "x/y", strings.Repeat("t", 65), "{{code}}"} {
		if _, err := Load(env(map[string]string{"VERIFICATION_EMAIL_TEMPLATE": v})); err == nil || !strings.Contains(err.Error(), "VERIFICATION_EMAIL_TEMPLATE") {
			t.Errorf("VERIFICATION_EMAIL_TEMPLATE=%q: got %v", v, err)
		}
	}
	if c, err := Load(env(map[string]string{"VERIFICATION_EMAIL_TEMPLATE": strings.Repeat("t", 64)})); err != nil || len(c.VerificationEmailTemplate) != 64 {
		t.Errorf("64-character name: %q, %v", c.VerificationEmailTemplate, err)
	}
}

// Reply paths are appended to PUBLIC_BASE_URL, so nothing may follow /api/v1
// (FuzzLoad found "http://0/api/v1#" accepted).
func TestBaseURLEndsInAPIV1(t *testing.T) {
	for _, v := range []string{"https://x/api/v1#", "https://x/api/v1?", "https://x/api/v1?a=/api/v1", "https://x/api/v1#/api/v1"} {
		if _, err := Load(env(map[string]string{"PUBLIC_BASE_URL": v})); err == nil {
			t.Errorf("PUBLIC_BASE_URL=%q accepted", v)
		}
	}
	if c, err := Load(env(map[string]string{"PUBLIC_BASE_URL": "https://x:8443/stage/api/v1/"})); err != nil || c.PublicBaseURL != "https://x:8443/stage/api/v1" {
		t.Fatalf("got %q, %v", c.PublicBaseURL, err)
	}
}

func TestRequire(t *testing.T) {
	err := Require("REQUESTS_TABLE", "t", "CONFIG_TABLE", " ")
	if err == nil || !strings.Contains(err.Error(), "CONFIG_TABLE") || strings.Contains(err.Error(), "REQUESTS_TABLE") {
		t.Fatalf("got %v", err)
	}
}

func TestOperatorSettings(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.LogLevel != slog.LevelInfo || c.PublicCORSOrigins != nil || c.FinishedRequestRetention != 365*24*time.Hour {
		t.Errorf("defaults: level %v, origins %v, retention %v", c.LogLevel, c.PublicCORSOrigins, c.FinishedRequestRetention)
	}
	c, err = Load(env(map[string]string{
		"LOG_LEVEL": "debug", "FINISHED_REQUEST_RETENTION_DAYS": "0",
		"PUBLIC_CORS_ORIGINS": "https://Privacy.Example.com, http://127.0.0.1:8080",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.LogLevel != slog.LevelDebug || c.FinishedRequestRetention != 0 ||
		strings.Join(c.PublicCORSOrigins, " ") != "https://privacy.example.com http://127.0.0.1:8080" {
		t.Errorf("got level %v, retention %v, origins %q", c.LogLevel, c.FinishedRequestRetention, c.PublicCORSOrigins)
	}
	for _, bad := range []string{"*", "privacy.example.com", "https://x.example/", "https://x.example?q", "ftp://x.example", "https://u@x.example"} {
		if _, err := Load(env(map[string]string{"PUBLIC_CORS_ORIGINS": bad})); err == nil {
			t.Errorf("PUBLIC_CORS_ORIGINS=%q accepted", bad)
		}
	}
}

// WEBHOOK_TIMEOUT is held below the dispatcher's timeout twice: at start-up
// (Load) and at deploy (the template's AllowedPattern); both must agree with
// the dispatcher's Lambda timeout in the template.
func TestWebhookTimeoutBelowTheDispatcherTimeout(t *testing.T) {
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tpl := string(raw)
	fn := tpl[strings.Index(tpl, "\n  DispatcherFunction:"):]
	fn = fn[:strings.Index(fn[1:], "\n  ReconcilerFunction:")+1]
	if m := regexp.MustCompile(`\n      Timeout: (\d+)\n`).FindStringSubmatch(fn); m == nil || m[1] != fmt.Sprint(int(DispatcherTimeout.Seconds())) {
		t.Fatalf("the dispatcher's Timeout in the template is %v, want %v", m, DispatcherTimeout)
	}
	m := regexp.MustCompile(`\n  WebhookTimeout:\n(?:    .*\n)*?    AllowedPattern: "([^"]+)"`).FindStringSubmatch(tpl)
	if m == nil {
		t.Fatal("WebhookTimeout has no AllowedPattern")
	}
	pattern := regexp.MustCompile(m[1])
	for _, v := range []string{"1s", "10s", "50s", "51s", "60s", "15m"} {
		d, _ := time.ParseDuration(v)
		_, loadErr := Load(env(map[string]string{"WEBHOOK_TIMEOUT": v}))
		if deployOK, startOK := pattern.MatchString(v), loadErr == nil; deployOK != (d <= MaxWebhookTimeout) || startOK != (d <= MaxWebhookTimeout) {
			t.Errorf("WEBHOOK_TIMEOUT=%s: deploy accepts %v, start-up accepts %v (%v)", v, deployOK, startOK, loadErr)
		}
	}
}
