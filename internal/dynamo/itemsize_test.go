package dynamo

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/pregate/pregate/internal/gate"
)

func TestAttributeSize(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	for _, tc := range []struct {
		name string
		v    types.AttributeValue
		want int
	}{
		{"ascii string", s("hello"), 5},
		{"utf-8 string counts bytes", s("é€😀"), 2 + 3 + 4},
		{"empty string", s(""), 0},
		{"number 0", n("0"), 2},
		{"number 7", n("7"), 2},
		{"number 12", n("12"), 2},
		{"number 123", n("123"), 3},
		{"trailing zeros are not significant", n("1000000"), 2},
		{"leading zeros and the point", n("0.0012345"), 4},
		{"negative", n("-12"), 3},
		{"16 digits (unix microseconds)", n("1764745200123456"), 9},
		{"binary", &types.AttributeValueMemberB{Value: make([]byte, 10)}, 10},
		{"bool", &types.AttributeValueMemberBOOL{Value: true}, 1},
		{"null", &types.AttributeValueMemberNULL{Value: true}, 1},
		{"empty list", &types.AttributeValueMemberL{}, 3},
		{"list", &types.AttributeValueMemberL{Value: []types.AttributeValue{s("ab"), n("1")}}, 3 + (1 + 2) + (1 + 2)},
		{"empty map", &types.AttributeValueMemberM{}, 3},
		{"map", &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": s("abc")}}, 3 + 1 + 1 + 3},
		{"nested", &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"key": s("x")}}}}, 3 + 1 + (3 + 1 + 3 + 1)},
		{"string set", &types.AttributeValueMemberSS{Value: []string{"a", "bc"}}, 3},
		{"number set", &types.AttributeValueMemberNS{Value: []string{"1", "123"}}, 2 + 3},
	} {
		if got := AttributeSize(tc.v); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	item := map[string]types.AttributeValue{"id": s("pri_1"), "n": n("10")}
	if got := ItemSize(item); got != 2+5+1+2 {
		t.Errorf("item: %d", got)
	}
}

// DynamoDB's refusals for size become the domain's item-too-large error;
// other validation errors stay what they were.
func TestItemSizeError(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want bool
	}{
		{"Item size has exceeded the maximum allowed size", true},
		{"Item size to update has exceeded the maximum allowed size", true},
		{"One or more parameter values were invalid", false},
	} {
		err := fmt.Errorf("operation error DynamoDB: UpdateItem: %w", &smithy.GenericAPIError{Code: "ValidationException", Message: tc.msg})
		var big *gate.ItemTooLargeError
		if got := errors.As(itemSizeError(err, "update request x"), &big); got != tc.want {
			t.Errorf("%q: item too large %v, want %v", tc.msg, got, tc.want)
		}
	}
}
