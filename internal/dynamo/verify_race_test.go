package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/gate"
)

type codeCatcher struct{ code chan string }

func (c codeCatcher) SendVerificationCode(_ context.Context, m gate.VerificationMail) error {
	c.code <- m.Code
	return nil
}

type noWebhooks struct{}

func (noWebhooks) ListWebhooks(context.Context) (gate.WebhookConfig, error) {
	return gate.WebhookConfig{}, nil
}

func (noWebhooks) WebhooksSince(context.Context, int64) ([]gate.Webhook, error) { return nil, nil }

type slowCallerKey struct{}

// slowReader is the store, except that the call marked slowCallerKey has
// its first read held back until wantTries codes have been tried: it then
// goes on with what it read before, as a call paused between its read and
// its write does.
type slowReader struct {
	*dynamo.RequestStore
	wantTries int
	once      sync.Once
	t         *testing.T
}

func (s *slowReader) Get(ctx context.Context, id string) (*gate.PrivacyRequest, error) {
	r, err := s.RequestStore.Get(ctx, id)
	if err != nil || ctx.Value(slowCallerKey{}) == nil {
		return r, err
	}
	s.once.Do(func() {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			now, err := s.RequestStore.Get(ctx, id)
			if err == nil && now.Code != nil && now.Code.Attempts >= s.wantTries {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		s.t.Errorf("the other calls did not try %d codes within 30 s", s.wantTries)
	})
	return r, nil
}

// Concurrent /verify calls try at most MaxCodeAttempts codes between them:
// the right code, read while fewer than 5 codes had been tried, is refused
// once 5 wrong ones have been, however late its call writes.
func TestVerifyTriesAtMostFiveCodesUnderConcurrency(t *testing.T) {
	s, cfg := awstest.Stack(t)
	ctx := context.Background()
	store := &slowReader{RequestStore: dynamo.NewRequestStore(dynamodb.NewFromConfig(cfg), s.Resources["RequestsTable"].Ref),
		wantTries: gate.MaxCodeAttempts, t: t}
	mail := codeCatcher{code: make(chan string, 1)}
	u := &gate.Requests{Store: store, Webhooks: noWebhooks{}, RequireManualApproval: true, VerifyIdentity: true, Codes: mail,
		Now: time.Now, NewID: gate.NewRequestID, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	res, err := u.Submit(ctx, []gate.SubmitItem{{Identity: gate.Identity{Email: "subject@example.com"}, PolicyKey: "default_access_policy"}})
	if err != nil || len(res.Succeeded) != 1 {
		t.Fatalf("submit: %+v %v", res, err)
	}
	id, code := res.Succeeded[0].ID, <-mail.code

	const guesses = 40 // API Gateway's default burst for the public routes
	var wg sync.WaitGroup
	answers := make([]error, guesses)
	for i := range guesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			guess, callCtx := fmt.Sprintf("%06d", (i+1)*1009%1_000_000), ctx
			if i == 0 {
				guess, callCtx = code, context.WithValue(ctx, slowCallerKey{}, true)
			} else if guess == code {
				guess = "x" + guess[1:]
			}
			_, answers[i] = u.Verify(callCtx, id, guess)
		}()
	}
	wg.Wait()
	r, err := store.RequestStore.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var refused *gate.ForbiddenError
	if r.Status != gate.StatusIdentityUnverified || !errors.As(answers[0], &refused) {
		t.Fatalf("the right code was accepted after %d codes had been tried (status %s, answer %v)", gate.MaxCodeAttempts, r.Status, answers[0])
	}
	wrong := 0
	for _, err := range answers[1:] {
		if errors.As(err, &refused) && refused.Msg == "Incorrect identification code. Enter a valid code!" {
			wrong++
		}
	}
	if wrong != gate.MaxCodeAttempts-1 || r.Code.Attempts != gate.MaxCodeAttempts {
		t.Fatalf("%d calls told their code was wrong, %d tries counted; want %d and %d", wrong, r.Code.Attempts, gate.MaxCodeAttempts-1, gate.MaxCodeAttempts)
	}
}
