package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pregate/pregate/internal/gate"
)

// TestQueryShardsAskEveryShardAtOnce: a listing's per-shard queries are in
// flight together (a page waits for one round trip, not 16), their keys come
// back in the order of the shards whatever order they end in, and the first
// failure is the listing's, the other queries being cancelled.
func TestQueryShardsAskEveryShardAtOnce(t *testing.T) {
	hashes := dueSetShards(gate.DueAll) // open and decided: 32
	all := make(chan struct{})
	var mu sync.Mutex
	inFlight := 0
	query := func(ctx context.Context, hash string) ([]indexKey, error) {
		mu.Lock()
		if inFlight++; inFlight == len(hashes) {
			close(all)
		}
		mu.Unlock()
		select { // each waits for every other to have started
		case <-all:
		case <-time.After(5 * time.Second):
			return nil, fmt.Errorf("%s: the other shards' queries never started", hash)
		}
		return []indexKey{{id: hash, sort: hash}}, nil
	}
	keys, err := queryShards(context.Background(), hashes, query)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keys {
		got = append(got, k.id)
	}
	if strings.Join(got, ",") != strings.Join(hashes, ",") {
		t.Errorf("keys in the order %v, want the shards' %v", got, hashes)
	}

	throttled := errors.New("throttled")
	_, err = queryShards(context.Background(), hashes, func(ctx context.Context, hash string) ([]indexKey, error) {
		if hash == hashes[7] {
			return nil, throttled
		}
		<-ctx.Done() // cancelled by the failure
		return nil, ctx.Err()
	})
	if !errors.Is(err, throttled) {
		t.Errorf("a failing shard: %v, want its error", err)
	}
}
