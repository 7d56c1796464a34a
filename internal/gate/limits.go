package gate

import (
	"fmt"
	"regexp"
	"sync"
	"unicode/utf8"
)

// The field limits. Every string the API stores has one, so that a stored
// item has a known largest size (docs/internals/storage.md, "Largest item"). Lengths
// count characters (Unicode code points), as the 422 messages say.
const (
	MaxEmailLen       = 254  // an address as SMTP carries it
	MaxPhoneLen       = 16   // "+" and at most 15 digits (E.164)
	MaxExternalIDLen  = 255  // the data subject's own reference
	MaxKeyLen         = 100  // policy, connection and webhook keys
	MaxNameLen        = 200  // connection and webhook names
	MaxDescriptionLen = 2000 // a connection's description
	MaxDenyReasonLen  = 1000 // an admin's reason for a denial
	MaxHeaders        = 20   // custom headers of a connection
	MaxHeaderNameLen  = 100  // one custom header's name
	MaxHeaderValueLen = 1000 // one custom header's value
	MaxURLLen         = 2048 // a connection's validator url
	MaxAuthLen        = 4096 // a connection's authorization header value
	MaxReasonLen      = 80   // bytes of a delivery failure reason kept on the timeline
	MaxActorLen       = 128  // characters of the signed-in admin's name, stored as actor and reviewer (Cognito's user name limit)
	maxStoredKeyLen   = 200  // the longest key ever saved (the limit before MaxKeyLen)
	maxSecretsBytes   = 4096 // a connection's secrets together, as JSON (KMS encrypts at most 4 KiB directly)
)

// tooLong reports whether s has more than max characters.
func tooLong(s string, max int) bool {
	return len(s) > max && utf8.RuneCountInString(s) > max
}

// maxLengthError is pydantic's 422 item for a string over max characters.
func maxLengthError(max int, loc ...any) FieldError {
	return FieldError{Loc: loc, Msg: maxLengthMsg(max), Type: "value_error.any_str.max_length"}
}

func maxLengthMsg(max int) string {
	return fmt.Sprintf("ensure this value has at most %d characters", max)
}

// TruncateReason cuts a failure reason to at most MaxReasonLen bytes, on a
// character boundary, so a stored timeline entry stays small whatever the
// network said.
func TruncateReason(s string) string {
	if len(s) <= MaxReasonLen {
		return s
	}
	const ellipsis = "…"
	cut := MaxReasonLen - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// checkKey checks a key: at most MaxKeyLen characters, then the pattern.
func checkKey(key string, loc ...any) (FieldError, bool) {
	switch {
	case tooLong(key, MaxKeyLen):
		return maxLengthError(MaxKeyLen, loc...), true
	case !keyPattern().MatchString(key):
		return FieldError{Loc: loc, Msg: msgBadKey, Type: "value_error"}, true
	}
	return FieldError{}, false
}

// checkActor refuses an admin whose name (the token's user name or client
// id, stored on the timeline and as reviewer) is over MaxActorLen
// characters, before anything is stored.
func checkActor(actor string) error {
	if tooLong(actor, MaxActorLen) {
		return &ValidationError{Fields: []FieldError{maxLengthError(MaxActorLen, "header", "Authorization")}}
	}
	return nil
}

// lazyPattern compiles expr at its first use: each pattern checks the input
// of a few routes, and compiling every one at each cold start of every
// function cost more than the rest of this package's initialisation.
func lazyPattern(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
