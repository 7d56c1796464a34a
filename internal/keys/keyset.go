// Package keys holds the reply-token key set and mints and verifies reply
// tokens (compact JWE, alg "dir", enc "A256GCM").
package keys

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"unicode/utf8"
)

// MinSecretLen is the minimum length, in characters, of a key secret.
const MinSecretLen = 32

const redacted = "[REDACTED]"

// Key is one named AES-256 key. Its material is unexported and every
// formatting path (fmt verbs, %#v, slog) prints a redacted form.
type Key struct {
	ID string
	// A pointer, because fmt reflects into struct fields when a verb is
	// refused (%p on a value bypasses Format) and prints a nested pointer only
	// as an address.
	secret *[32]byte
}

func newKey(id, secret string) Key {
	sum := sha256.Sum256([]byte(secret))
	return Key{ID: id, secret: &sum}
}

func (k Key) String() string   { return fmt.Sprintf("keys.Key{ID:%q, secret:%s}", k.ID, redacted) }
func (k Key) GoString() string { return k.String() }

// Format covers every verb, including %d and %x, which would otherwise let
// fmt reflect into the unexported secret.
func (k Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("secret", redacted))
}

// KeySet is the current key, used to mint, and an optional previous key that
// still verifies tokens minted before a rotation.
type KeySet struct {
	Current  Key
	Previous *Key
}

func (ks KeySet) String() string {
	prev := "<nil>"
	if ks.Previous != nil {
		prev = ks.Previous.String()
	}
	return fmt.Sprintf("keys.KeySet{Current:%s, Previous:%s}", ks.Current, prev)
}
func (ks KeySet) GoString() string           { return ks.String() }
func (ks KeySet) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(ks.String())) }

func (ks KeySet) LogValue() slog.Value {
	attrs := []slog.Attr{slog.Any("current", ks.Current)}
	if ks.Previous != nil {
		attrs = append(attrs, slog.Any("previous", *ks.Previous))
	}
	return slog.GroupValue(attrs...)
}

// lookup returns the key named kid, if any.
func (ks KeySet) lookup(kid string) (Key, bool) {
	switch {
	case kid == "" || ks.Current.secret == nil:
		return Key{}, false
	case kid == ks.Current.ID:
		return ks.Current, true
	case ks.Previous != nil && ks.Previous.secret != nil && kid == ks.Previous.ID:
		return *ks.Previous, true
	}
	return Key{}, false
}

type keySetJSON struct {
	CurrentKID     string `json:"current_kid"`
	CurrentSecret  string `json:"current_secret"`
	PreviousKID    string `json:"previous_kid,omitempty"`
	PreviousSecret string `json:"previous_secret,omitempty"`
}

// ParseKeySet parses a key set as held in AWS Secrets Manager:
//
//	{"current_kid":"k1","current_secret":"...","previous_kid":"k0","previous_secret":"..."}
//
// The previous pair is optional. Each AES-256 key is SHA-256 of its secret
// string. Errors never quote secret material.
func ParseKeySet(raw string) (KeySet, error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	var in keySetJSON
	if err := dec.Decode(&in); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) || errors.Is(err, io.EOF) {
			// A syntax error message can quote a character of a secret.
			return KeySet{}, errors.New("key set: not valid JSON")
		}
		return KeySet{}, fmt.Errorf("key set: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return KeySet{}, errors.New("key set: trailing data after JSON object")
	}
	if err := checkPair("current", in.CurrentKID, in.CurrentSecret); err != nil {
		return KeySet{}, err
	}
	ks := KeySet{Current: newKey(in.CurrentKID, in.CurrentSecret)}
	if in.PreviousKID == "" && in.PreviousSecret == "" {
		return ks, nil
	}
	if err := checkPair("previous", in.PreviousKID, in.PreviousSecret); err != nil {
		return KeySet{}, err
	}
	if in.PreviousKID == in.CurrentKID {
		return KeySet{}, fmt.Errorf("key set: duplicate kid %q: previous_kid must differ from current_kid", in.PreviousKID)
	}
	prev := newKey(in.PreviousKID, in.PreviousSecret)
	ks.Previous = &prev
	return ks, nil
}

func checkPair(which, kid, secret string) error {
	switch {
	case kid == "":
		return fmt.Errorf("key set: missing %s_kid", which)
	case secret == "":
		return fmt.Errorf("key set: missing %s_secret", which)
	case utf8.RuneCountInString(secret) < MinSecretLen:
		return fmt.Errorf("key set: %s_secret must be at least %d characters", which, MinSecretLen)
	}
	return nil
}

const alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// GenerateKeySetJSON returns a fresh key set with one current key named kid
// and a 64-character random alphanumeric secret, for local stacks.
func GenerateKeySetJSON(kid string) (string, error) {
	if kid == "" {
		return "", errors.New("key set: kid must not be empty")
	}
	secret := make([]byte, 0, 64)
	buf := make([]byte, 64)
	for len(secret) < cap(secret) {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("key set: random: %w", err)
		}
		for _, b := range buf {
			// Rejection sampling: 248 = 4*62, so b%62 is uniform below it.
			if b < 248 && len(secret) < cap(secret) {
				secret = append(secret, alphanumeric[b%62])
			}
		}
	}
	out, err := json.Marshal(keySetJSON{CurrentKID: kid, CurrentSecret: string(secret)})
	if err != nil {
		return "", err
	}
	return string(out), nil
}
