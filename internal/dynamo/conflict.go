package dynamo

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// RetryConflicts is an option of the DynamoDB client every function uses:
// its retryer also retries TransactionConflictException, which DynamoDB
// answers to a plain write of an item that a transaction (an admin's
// re-run, a change of the webhook set) is writing at that moment, and which
// the SDK's standard retryer leaves to the caller. The write had no effect,
// so sending it again is safe.
func RetryConflicts(o *dynamodb.Options) {
	o.Retryer = retry.AddWithErrorCodes(o.Retryer, (&types.TransactionConflictException{}).ErrorCode())
}

// A transaction cancelled for a conflict is sent again, as a new call (a
// new client request token: the SDK's own retry would repeat the token of
// the cancelled one), at most transactTries times, after a delay that
// doubles from transactBackoff, with jitter.
const transactTries = 4

var transactBackoff = 25 * time.Millisecond

type transactWriter interface {
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// transactWrite is the one place transactions are sent.
func transactWrite(ctx context.Context, db transactWriter, in *dynamodb.TransactWriteItemsInput) error {
	wait := transactBackoff
	for try := 1; ; try++ {
		call := *in // the SDK fills the token into the input it is given
		_, err := db.TransactWriteItems(ctx, &call)
		if err == nil || try == transactTries || !canceledForConflict(err) {
			return err
		}
		select {
		case <-time.After(wait/2 + rand.N(wait/2+1)):
		case <-ctx.Done():
			return err
		}
		wait *= 2
	}
}

// canceledForConflict reports whether err is a transaction cancelled only
// because another write to one of its items was in flight: at least one
// reason TransactionConflict, and no other reason than None. A condition
// that failed is an answer, never retried here.
func canceledForConflict(err error) bool {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		return false
	}
	conflict := false
	for _, r := range tc.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "TransactionConflict":
			conflict = true
		case "None", "":
		default:
			return false
		}
	}
	return conflict
}
