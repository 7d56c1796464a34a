package dynamo

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/awsenv"
)

func canceled(codes ...string) error {
	reasons := make([]types.CancellationReason, len(codes))
	for i, c := range codes {
		reasons[i] = types.CancellationReason{Code: aws.String(c)}
	}
	return &types.TransactionCanceledException{Message: aws.String("Transaction cancelled"), CancellationReasons: reasons}
}

// scriptedTransactions answers each TransactWriteItems with the next error
// of its script (nil once it runs out), filling the client request token as
// the SDK does into the input it is given.
type scriptedTransactions struct {
	script []error
	calls  int
	tokens []bool // whether each call came with a token already set
}

func (s *scriptedTransactions) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	s.tokens = append(s.tokens, in.ClientRequestToken != nil)
	in.ClientRequestToken = aws.String("token")
	s.calls++
	if s.calls <= len(s.script) {
		return nil, s.script[s.calls-1]
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// A transaction cancelled only for conflicts is sent again, as a new call,
// up to transactTries times; any other cancellation reason is an answer.
func TestTransactWriteRetriesConflictsOnly(t *testing.T) {
	conflict := canceled("None", "TransactionConflict")
	throttled := errors.New("throttled")
	cases := []struct {
		name      string
		script    []error
		wantCalls int
		wantErr   bool
	}{
		{"conflict twice, then done", []error{conflict, conflict}, 3, false},
		{"conflict every time", []error{conflict, conflict, conflict, conflict, conflict}, transactTries, true},
		{"condition failed", []error{canceled("ConditionalCheckFailed", "None")}, 1, true},
		{"conflict and condition failed", []error{canceled("TransactionConflict", "ConditionalCheckFailed")}, 1, true},
		{"no reason a conflict", []error{canceled("None", "None")}, 1, true},
		{"other error", []error{throttled}, 1, true},
	}
	defer func(b time.Duration) { transactBackoff = b }(transactBackoff)
	transactBackoff = time.Millisecond
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := &scriptedTransactions{script: c.script}
			err := transactWrite(context.Background(), db, &dynamodb.TransactWriteItemsInput{})
			if db.calls != c.wantCalls || (err != nil) != c.wantErr {
				t.Fatalf("%d calls, error %v; want %d calls, error %v", db.calls, err, c.wantCalls, c.wantErr)
			}
			for i, had := range db.tokens {
				if had {
					t.Fatalf("call %d repeated the client request token of a cancelled call", i+1)
				}
			}
		})
	}
}

// The client option makes the SDK retry TransactionConflictException, the
// answer to a plain write of an item a transaction is writing; without it
// the SDK leaves it to the caller.
func TestRetryConflictsOption(t *testing.T) {
	for _, withOption := range []bool{false, true} {
		var calls atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			if calls.Add(1) == 1 {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#TransactionConflictException","message":"Transaction is ongoing for the item"}`)
				return
			}
			_, _ = io.WriteString(w, `{}`)
		}))
		var opts []func(*dynamodb.Options)
		if withOption {
			opts = append(opts, RetryConflicts)
		}
		db := dynamodb.NewFromConfig(awsenv.Emulator(srv.URL), opts...)
		_, err := db.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String("t"),
			Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "pri_1"}}, UpdateExpression: aws.String("SET s = :s"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: "x"}}})
		srv.Close()
		var tce *types.TransactionConflictException
		switch {
		case withOption && (err != nil || calls.Load() != 2):
			t.Fatalf("with RetryConflicts: %v after %d calls, want success on the second", err, calls.Load())
		case !withOption && (!errors.As(err, &tce) || calls.Load() != 1):
			t.Fatalf("without it: %v after %d calls; the test no longer shows the SDK's default", err, calls.Load())
		}
	}
}
