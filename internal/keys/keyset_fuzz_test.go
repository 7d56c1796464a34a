package keys

import (
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseKeySet: any Secrets Manager value parses to a key set that holds
// exactly the kids and secrets written in it, or to an error that quotes no
// secret; a parsed set re-encoded parses to the same keys.
func FuzzParseKeySet(f *testing.F) {
	for _, s := range []string{
		`{"current_kid":"k1","current_secret":"` + secretA + `"}`,
		`{"current_kid":"k1","current_secret":"` + secretA + `","previous_kid":"k0","previous_secret":"` + secretB + `"}`,
		`{"current_kid":"k1","current_secret":"` + secretA + `","previous_kid":"k1","previous_secret":"` + secretB + `"}`,
		`{"current_kid":"k1","current_secret":"` + secretA + `"} {}`,
		`{"current_kid":"k1","current_secret":"` + secretA + `","x":1}`,
		`{"current_kid":"k1","current_secret":"` + secretA[:31] + `é"}`,
		`{"current_kid":1,"current_secret":"` + secretA + `"}`,
		`{"CURRENT_KID":"k1","current_secret":"` + secretA + `"}`,
		``, `null`, `[]`, `{`, `"` + secretA + `"`, `{"current_secret":"` + secretA + `x"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ks, err := ParseKeySet(raw)
		// encoding/json's own reading of the value is the oracle.
		var in keySetJSON
		lenient := json.Unmarshal([]byte(raw), &in)
		if err != nil {
			for _, secret := range []string{in.CurrentSecret, in.PreviousSecret} {
				if utf8.RuneCountInString(secret) >= MinSecretLen && strings.Contains(err.Error(), secret) &&
					!strings.Contains(in.CurrentKID+in.PreviousKID, secret) {
					t.Fatalf("error quotes a secret: %v", err)
				}
			}
			return
		}
		if lenient != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", raw, lenient)
		}
		want := func(name string, k Key, kid, secret string) {
			if k.ID != kid || k.secret == nil || *k.secret != sha256.Sum256([]byte(secret)) {
				t.Fatalf("%s key %v is not kid %q with its secret", name, k, kid)
			}
			if kid == "" || utf8.RuneCountInString(secret) < MinSecretLen {
				t.Fatalf("%s key accepted with kid %q and a %d-character secret", name, kid, utf8.RuneCountInString(secret))
			}
		}
		want("current", ks.Current, in.CurrentKID, in.CurrentSecret)
		if (ks.Previous != nil) != (in.PreviousKID != "" || in.PreviousSecret != "") {
			t.Fatalf("previous key %v for input %+v", ks.Previous, in)
		}
		if ks.Previous != nil {
			want("previous", *ks.Previous, in.PreviousKID, in.PreviousSecret)
			if ks.Previous.ID == ks.Current.ID {
				t.Fatalf("duplicate kid %q accepted", ks.Current.ID)
			}
		}
		again, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		ks2, err := ParseKeySet(string(again))
		if err != nil || ks2.String() != ks.String() || *ks2.Current.secret != *ks.Current.secret ||
			(ks.Previous != nil && *ks2.Previous.secret != *ks.Previous.secret) {
			t.Fatalf("re-encoded %s parses to %v, %v; want %v", again, ks2, err, ks)
		}
	})
}
