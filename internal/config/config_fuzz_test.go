package config

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzLoad: whatever the behaviour settings hold, Load either returns a
// config inside the documented bounds or an error naming each bad variable.
func FuzzLoad(f *testing.F) {
	f.Add("true", "60h", "10s", "5", "5s", "48h", "https://x.example/api/v1/")
	f.Add("yes", "59s", "99ms", "21", "-1s", "0", "ftp://x/api/v1")
	f.Add("", "", "16m", "0x5", "1e3s", "off", "http://[::1]:3000/api/v1")
	f.Add(" 1 ", "9223372036854775807ns", "15m", " 20 ", "0", "-5m", "https:///api/v1")
	f.Fuzz(func(t *testing.T, manual, ttl, timeout, attempts, backoff, deadline, baseURL string) {
		vars := map[string]string{
			"REQUIRE_MANUAL_REQUEST_APPROVAL": manual, "REPLY_TOKEN_TTL": ttl, "WEBHOOK_TIMEOUT": timeout,
			"WEBHOOK_MAX_ATTEMPTS": attempts, "WEBHOOK_BACKOFF": backoff, "REVIEW_DEADLINE": deadline, "PUBLIC_BASE_URL": baseURL,
		}
		c, err := Load(env(vars))
		if err != nil {
			// Every message names a variable it read.
			for _, line := range strings.Split(err.Error(), "\n") {
				name, _, _ := strings.Cut(line, "=")
				if _, ok := vars[name]; !ok {
					t.Fatalf("error line %q names no setting", line)
				}
			}
			return
		}
		switch {
		case c.ReplyTokenTTL < time.Minute,
			c.WebhookTimeout < 100*time.Millisecond || c.WebhookTimeout > MaxWebhookTimeout,
			c.WebhookMaxAttempts < 1 || c.WebhookMaxAttempts > 20,
			c.WebhookBackoff < 0, c.ReviewDeadline < 0:
			t.Fatalf("accepted out-of-bounds settings %+v from %q", c, vars)
		}
		if c.PublicBaseURL != "" {
			u, err := url.Parse(c.PublicBaseURL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
				!strings.HasSuffix(c.PublicBaseURL, "/api/v1") || u.RawQuery != "" || u.Fragment != "" {
				t.Fatalf("accepted base URL %q", c.PublicBaseURL)
			}
		}
	})
}
