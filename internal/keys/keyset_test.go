package keys

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const (
	secretA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	secretB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestParseKeySet(t *testing.T) {
	short := strings.Repeat("s", MinSecretLen-1)
	exact := strings.Repeat("é", MinSecretLen) // 32 characters, 64 bytes
	tests := []struct {
		name     string
		raw      string
		wantErr  string // substring; "" means success
		wantPrev bool
	}{
		{name: "current only", raw: `{"current_kid":"k1","current_secret":"` + secretA + `"}`},
		{name: "current and previous", raw: `{"current_kid":"k1","current_secret":"` + secretA + `","previous_kid":"k0","previous_secret":"` + secretB + `"}`, wantPrev: true},
		{name: "32 characters counted as runes", raw: `{"current_kid":"k1","current_secret":"` + exact + `"}`},
		{name: "empty string", raw: ``, wantErr: "not valid JSON"},
		{name: "not JSON", raw: `current_kid=k1`, wantErr: "not valid JSON"},
		{name: "null", raw: `null`, wantErr: "missing current_kid"},
		{name: "missing current kid", raw: `{"current_secret":"` + secretA + `"}`, wantErr: "missing current_kid"},
		{name: "missing current secret", raw: `{"current_kid":"k1"}`, wantErr: "missing current_secret"},
		{name: "short current secret", raw: `{"current_kid":"k1","current_secret":"` + short + `"}`, wantErr: "current_secret must be at least 32 characters"},
		{name: "short previous secret", raw: `{"current_kid":"k1","current_secret":"` + secretA + `","previous_kid":"k0","previous_secret":"` + short + `"}`, wantErr: "previous_secret must be at least 32"},
		{name: "previous kid without secret", raw: `{"current_kid":"k1","current_secret":"` + secretA + `","previous_kid":"k0"}`, wantErr: "missing previous_secret"},
		{name: "previous secret without kid", raw: `{"current_kid":"k1","current_secret":"` + secretA + `","previous_secret":"` + secretB + `"}`, wantErr: "missing previous_kid"},
		{name: "duplicate kid", raw: `{"current_kid":"k1","current_secret":"` + secretA + `","previous_kid":"k1","previous_secret":"` + secretB + `"}`, wantErr: `duplicate kid "k1"`},
		{name: "unknown field", raw: `{"current_kid":"k1","current_secret":"` + secretA + `","curent_secret":"x"}`, wantErr: "unknown field"},
		{name: "wrong type", raw: `{"current_kid":1,"current_secret":"` + secretA + `"}`, wantErr: "current_kid"},
		{name: "trailing data", raw: `{"current_kid":"k1","current_secret":"` + secretA + `"}{}`, wantErr: "trailing data"},
		{name: "trailing brace", raw: `{"current_kid":"k1","current_secret":"` + secretA + `"}}`, wantErr: "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks, err := ParseKeySet(tt.raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				for _, s := range []string{secretA, secretB, short} {
					if strings.Contains(err.Error(), s) {
						t.Fatalf("error quotes a secret: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if ks.Current.ID != "k1" {
				t.Errorf("current id = %q", ks.Current.ID)
			}
			if (ks.Previous != nil) != tt.wantPrev {
				t.Fatalf("previous = %v, want present %v", ks.Previous, tt.wantPrev)
			}
			if tt.wantPrev {
				if ks.Previous.ID != "k0" || *ks.Previous.secret != sha256.Sum256([]byte(secretB)) {
					t.Errorf("previous key not derived as SHA-256 of its secret")
				}
			}
		})
	}
}

func TestParseKeySetDerivesSHA256(t *testing.T) {
	ks, err := ParseKeySet(`{"current_kid":"k1","current_secret":"` + secretA + `"}`)
	if err != nil {
		t.Fatal(err)
	}
	if *ks.Current.secret != sha256.Sum256([]byte(secretA)) {
		t.Fatal("current key is not SHA-256 of the secret string")
	}
}

func TestGenerateKeySetJSON(t *testing.T) {
	raw1, err := GenerateKeySetJSON("local-1")
	if err != nil {
		t.Fatal(err)
	}
	raw2, err := GenerateKeySetJSON("local-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{raw1, raw2} {
		var in keySetJSON
		if err := json.Unmarshal([]byte(raw), &in); err != nil {
			t.Fatal(err)
		}
		if in.CurrentKID != "local-1" || len(in.CurrentSecret) != 64 || in.PreviousKID != "" {
			t.Fatalf("unexpected key set shape: kid %q, secret length %d", in.CurrentKID, len(in.CurrentSecret))
		}
		for _, r := range in.CurrentSecret {
			if !strings.ContainsRune(alphanumeric, r) {
				t.Fatalf("secret has non-alphanumeric %q", r)
			}
		}
		if _, err := ParseKeySet(raw); err != nil {
			t.Fatalf("generated key set does not parse: %v", err)
		}
	}
	if raw1 == raw2 {
		t.Fatal("two generated key sets are equal")
	}
	if _, err := GenerateKeySetJSON(""); err == nil {
		t.Fatal("empty kid accepted")
	}
}

func TestKeyNeverPrintsSecret(t *testing.T) {
	ks, err := ParseKeySet(`{"current_kid":"k1","current_secret":"` + secretA + `","previous_kid":"k0","previous_secret":"` + secretB + `"}`)
	if err != nil {
		t.Fatal(err)
	}
	// Forms in which the raw key bytes would appear if fmt reflected into them.
	var leaks []string
	for _, k := range []Key{ks.Current, *ks.Previous} {
		leaks = append(leaks,
			strings.Trim(fmt.Sprintf("%d", k.secret[:4]), "[]"), // "12 34 56 78"
			fmt.Sprintf("%x", k.secret[:4]),
			fmt.Sprintf("%X", k.secret[:4]),
			strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%#v", k.secret[:4]), "[]byte{"), "}"), // "0x12, 0x34, ..."
		)
	}
	leaks = append(leaks, secretA[:16], secretB[:16])

	var outs []string
	for _, v := range []any{ks.Current, &ks.Current, ks, &ks, ks.Previous, []Key{ks.Current}, struct{ K Key }{ks.Current}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%X", "%q", "%p"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		outs = append(outs, fmt.Sprint(v), fmt.Sprintln(v))
		b, _ := json.Marshal(v)
		outs = append(outs, string(b))
	}
	var logBuf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logBuf, nil))
	logger.Info("keys", "key", ks.Current, "set", ks, "ptr", ks.Previous)
	logger.Info("text", slog.Any("key", ks.Current))
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("keys", "key", ks.Current, "set", ks)
	outs = append(outs, logBuf.String())

	for _, out := range outs {
		for _, leak := range leaks {
			if strings.Contains(out, leak) {
				t.Fatalf("output %q contains key material %q", out, leak)
			}
		}
	}
	if s := ks.Current.String(); !strings.Contains(s, "k1") || !strings.Contains(s, "REDACTED") {
		t.Fatalf("String() = %q", s)
	}
	if !strings.Contains(logBuf.String(), `"secret":"[REDACTED]"`) {
		t.Fatalf("slog output not redacted as expected: %s", logBuf.String())
	}
}
