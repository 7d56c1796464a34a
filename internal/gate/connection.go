package gate

import (
	"strings"
	"time"
)

// Connection is where a validator lives.
type Connection struct {
	Key            string
	Name           string
	ConnectionType string
	Access         string
	Description    string
	Disabled       bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// Version counts the writes of the fields above (0: never written);
	// an update is conditional on it.
	Version int64
	// Secrets is what may be shown of the secrets; nil when none are set.
	Secrets *SecretsView
}

// SecretsView is the part of a connection's secrets shown to admins: the URL
// and whether headers are set. The authorization and headers stay sealed.
type SecretsView struct {
	URL        string
	HasHeaders bool
}

// Secrets are a connection's secrets in clear. They exist only in memory,
// never in logs, responses or storage.
type Secrets struct {
	URL           string            `json:"url"`
	Authorization string            `json:"authorization"`
	Headers       map[string]string `json:"headers,omitempty"`
}

// String keeps secrets out of logs and error messages.
func (Secrets) String() string { return "gate.Secrets{redacted}" }

// DeliveryTarget is everything the dispatcher needs to call one webhook's validator.
type DeliveryTarget struct {
	Webhook        Webhook
	URL            string
	Authorization  string
	Headers        map[string]string
	SigningSecrets []string // newest first
}

// String keeps secrets out of logs and error messages.
func (t DeliveryTarget) String() string {
	return "gate.DeliveryTarget{webhook:" + t.Webhook.Key + ", redacted}"
}

var keyPattern = lazyPattern(`^[a-zA-Z0-9_.<>-]+$`)

// ValidKey reports whether key matches the key pattern and is at most
// MaxKeyLen characters.
func ValidKey(key string) bool { return len(key) <= MaxKeyLen && keyPattern().MatchString(key) }

// SnakeKey turns a name into a key as Fides does: lower-case, drop every
// character that is not a letter, digit, space, '-' or '_', trim, then each
// run of spaces and hyphens becomes one '_'.
func SnakeKey(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == ' ' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	s := strings.TrimSpace(b.String())
	var out strings.Builder
	inRun := false
	for _, r := range s {
		if r == ' ' || r == '-' {
			if !inRun {
				out.WriteByte('_')
			}
			inRun = true
			continue
		}
		inRun = false
		out.WriteRune(r)
	}
	return out.String()
}

// derivedKey is the key of an item sent without one: its name in snake
// case, cut to MaxKeyLen characters (a name may be longer than a key).
func derivedKey(name string) string {
	k := SnakeKey(name)
	if len(k) > MaxKeyLen { // SnakeKey keeps ASCII only
		k = strings.TrimRight(k[:MaxKeyLen], "_")
	}
	return k
}
