package gate

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"
)

// countingConfig is a ConfigStore and Sealer that count the reads and
// decryptions the dispatcher's config cache makes.
type countingConfig struct {
	ConfigStore // only the two reads below are used
	mu          sync.Mutex
	set         WebhookSet
	secrets     map[string][]byte // connection key -> sealed (here: plain JSON)
	reads       map[string]int    // item -> reads
	opens       int
}

func (c *countingConfig) LoadWebhookSet(context.Context) (WebhookSet, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads["set"]++
	return c.set, nil
}

func (c *countingConfig) GetSealedSecrets(_ context.Context, key string) (*SealedSecrets, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads["connection "+key]++
	s, ok := c.secrets[key]
	if !ok {
		return nil, nil
	}
	return &SealedSecrets{Sealed: s}, nil
}

func (c *countingConfig) Seal(context.Context, map[string]string, []byte) ([]byte, error) {
	return nil, nil
}

func (c *countingConfig) Open(_ context.Context, _ map[string]string, sealed []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opens++
	return sealed, nil
}

func TestTargetCacheReadsEachItemOncePerBatch(t *testing.T) {
	cfg := &countingConfig{reads: map[string]int{}, secrets: map[string][]byte{}}
	for _, conn := range []string{"c1", "c2"} {
		cfg.secrets[conn], _ = json.Marshal(Secrets{URL: "https://" + conn + ".example", Authorization: "x"})
	}
	// Three webhooks on two connections, plus one whose connection has no secrets.
	for _, w := range [][2]string{{"a", "c1"}, {"b", "c1"}, {"c", "c2"}, {"d", "c3"}} {
		cfg.set.Webhooks = append(cfg.set.Webhooks, StoredWebhook{Webhook: Webhook{Key: w[0], ConnectionKey: w[1]},
			SigningSecrets: []SealedSigningSecret{{Sealed: []byte("whsec_" + w[0])}}})
	}
	now := time.Unix(1_800_000_000, 0)
	cache := &TargetCache{Admin: &Admin{Store: cfg, Sealer: cfg}, TTL: 30 * time.Second, Now: func() time.Time { return now }}
	keys := []string{"a", "b", "c", "a", "d", "gone"}

	got := cache.DeliveryTargets(context.Background(), keys)
	if got["a"].Target.URL != "https://c1.example" || got["c"].Target.URL != "https://c2.example" || got["b"].Target.SigningSecrets[0] != "whsec_b" {
		t.Fatalf("targets %+v", got)
	}
	var nf *NotFoundError
	if err := got["gone"].Err; !errors.As(err, &nf) {
		t.Fatalf("gone: %v, want not found", err)
	}
	var none *NoSecretsError
	if err := got["d"].Err; !errors.As(err, &none) || none.ConnectionKey != "c3" {
		t.Fatalf("d: %v, want no secrets on c3", err)
	}
	want := map[string]int{"set": 1, "connection c1": 1, "connection c2": 1, "connection c3": 1}
	if !sameCounts(cfg.reads, want) || cfg.opens != 2+3 {
		t.Fatalf("first batch: reads %v, %d decryptions; want %v and 5", cfg.reads, cfg.opens, want)
	}

	// Within the TTL a second batch of known webhooks reads nothing (what is
	// missing is read again, see below).
	cache.DeliveryTargets(context.Background(), []string{"c", "b", "a"})
	if !sameCounts(cfg.reads, want) || cfg.opens != 5 {
		t.Fatalf("second batch within TTL: reads %v, %d decryptions", cfg.reads, cfg.opens)
	}

	// After it, each item once more; with no TTL at all, still once per batch.
	now = now.Add(31 * time.Second)
	cache.TTL = 0
	for range 2 {
		cache.DeliveryTargets(context.Background(), keys)
	}
	want = map[string]int{"set": 3, "connection c1": 3, "connection c2": 3, "connection c3": 3}
	if !sameCounts(cfg.reads, want) || cfg.opens != 15 {
		t.Fatalf("after TTL: reads %v, %d decryptions; want %v and 15", cfg.reads, cfg.opens, want)
	}
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A webhook created, or secrets set, after the cache was filled are read at
// once: a request may already hold the new webhook in its snapshot.
func TestTargetCacheRereadsWhatItMisses(t *testing.T) {
	cfg := &countingConfig{reads: map[string]int{}, secrets: map[string][]byte{}}
	cfg.set.Webhooks = []StoredWebhook{{Webhook: Webhook{Key: "a", ConnectionKey: "c1"}}}
	now := time.Unix(1_800_000_000, 0)
	cache := &TargetCache{Admin: &Admin{Store: cfg, Sealer: cfg}, TTL: time.Hour, Now: func() time.Time { return now }}
	if err := cache.DeliveryTargets(context.Background(), []string{"a"})["a"].Err; err == nil {
		t.Fatal("a target without secrets")
	}
	cfg.secrets["c1"], _ = json.Marshal(Secrets{URL: "https://c1.example", Authorization: "x"})
	cfg.set.Webhooks = append(cfg.set.Webhooks, StoredWebhook{Webhook: Webhook{Key: "b", ConnectionKey: "c1"}})
	got := cache.DeliveryTargets(context.Background(), []string{"a", "b"})
	if got["a"].Err != nil || got["b"].Err != nil || got["b"].Target.URL != "https://c1.example" {
		t.Fatalf("after the config changed: %+v", got)
	}
	if cfg.reads["set"] != 2 || cfg.reads["connection c1"] != 2 {
		t.Fatalf("reads %v", cfg.reads)
	}
	// Now everything is there: served from the cache.
	cache.DeliveryTargets(context.Background(), []string{"a", "b"})
	if cfg.reads["set"] != 2 || cfg.reads["connection c1"] != 2 {
		t.Fatalf("reads %v", cfg.reads)
	}
}
