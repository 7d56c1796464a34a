package identitykey

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/pregate/pregate/internal/gate"
)

// The key is read once, in the background from the start; a first use
// waits for that read, and a failed read is made again by the next use.
func TestKeyIsReadOnceAndAgainAfterAFailure(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	want := gate.IdentityKey("0123456789abcdef0123456789abcdef")
	for _, failFirst := range []bool{false, true} {
		var reads atomic.Int32
		release := make(chan struct{})
		k := start(func(context.Context) (gate.IdentityKey, error) {
			if reads.Add(1) == 1 {
				<-release // the start's read is still in flight when the first use comes
				if failFirst {
					return nil, errors.New("throttled")
				}
			}
			return want, nil
		}, log)
		done := make(chan struct{})
		var got gate.IdentityKey
		var err error
		go func() { got, err = k.IdentityKey(context.Background()); close(done) }()
		close(release)
		<-done
		if err != nil || string(got) != string(want) {
			t.Fatalf("failFirst=%v: %q, %v", failFirst, got, err)
		}
		if _, err := k.IdentityKey(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n, wantReads := reads.Load(), map[bool]int32{false: 1, true: 2}[failFirst]; n != wantReads {
			t.Fatalf("failFirst=%v: %d reads, want %d", failFirst, n, wantReads)
		}
	}
}
