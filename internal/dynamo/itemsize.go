package dynamo

import (
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/pregate/pregate/internal/gate"
)

// MaxItemBytes is DynamoDB's limit on one item (400 KB).
const MaxItemBytes = 400 * 1024

// ItemSize is the size DynamoDB counts for an item, by its documented rules
// ("Item sizes and formats"): the sum over its attributes of the name's
// UTF-8 length plus the value's size. Read and write capacity units are
// priced on it (one write unit per started 1 KB, one strongly consistent
// read unit per started 4 KB), and an item may take at most MaxItemBytes.
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + AttributeSize(v)
	}
	return n
}

// AttributeSize is the size of one attribute value:
//   - a string or binary: its length in bytes (UTF-8 for strings);
//   - a number: 1 byte per two significant digits, plus 1 (plus 1 more when negative);
//   - a boolean or null: 1 byte;
//   - a list or map: 3 bytes, plus 1 byte per element, plus the elements
//     (a map element also counts its name);
//   - a set: the sum of its elements.
func AttributeSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return numberSize(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + AttributeSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for name, e := range v.Value {
			n += 1 + len(name) + AttributeSize(e)
		}
		return n
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += numberSize(s)
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, b := range v.Value {
			n += len(b)
		}
		return n
	}
	return 0
}

// numberSize sizes a number as DynamoDB stores it: its significant digits
// (no sign, exponent, leading or trailing zeros), two per byte, plus one.
func numberSize(s string) int {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s = s[:i]
	}
	d := len(strings.Trim(strings.Replace(s, ".", "", 1), "0"))
	if d == 0 {
		d = 1 // zero
	}
	n := (d+1)/2 + 1
	if neg {
		n++
	}
	return n
}

// itemSizeError turns DynamoDB's refusal of an item over 400 KB into the
// domain's *gate.ItemTooLargeError (a fault of the input, never retried);
// any other error is returned as it is.
func itemSizeError(err error, what string) error {
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "ValidationException" && tooLargeMessage(api.ErrorMessage()) {
		return &gate.ItemTooLargeError{Msg: what + ": the stored item would exceed the largest size an item may have", Cause: err}
	}
	return err
}

// tooLargeMessage reports whether a ValidationException's message is
// DynamoDB's refusal of an item over its size limit.
func tooLargeMessage(msg string) bool {
	return strings.Contains(msg, "Item size") && strings.Contains(msg, "exceeded the maximum allowed size")
}
