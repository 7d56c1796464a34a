package dynamo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

// Every submission and every reply reads the webhook set. Read from its
// item each time, that one key would take several read units per request:
// at 1,000 requests a second, far beyond the 3,000 a partition serves
// (docs/internals/storage.md, "Reading the configuration"). So a ConfigStore
// keeps the set it last read, with its version, and each read of the
// configuration reads only the set's version (strongly consistent, one
// read unit: the item is tiny), from one of versionShards copies picked at
// random, and reads the set again only when the version moved. Every read
// so shows every change completed before it, and no key takes more than
// 1/versionShards of the reads. The copies are written with the set, in
// the same transaction.

// versionShards is how many copies of the set's version are kept.
const versionShards = 8

// webhookCache is the set a ConfigStore read last.
type webhookCache struct {
	mu     sync.Mutex
	config gate.WebhookConfig
	read   time.Time // when the read that got it began; zero: nothing read yet
}

func (c *webhookCache) get() (gate.WebhookConfig, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.config, c.read
}

// keep stores what a read begun at `read` got, unless a newer version is kept.
func (c *webhookCache) keep(cfg gate.WebhookConfig, read time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.read.IsZero() || cfg.Version > c.config.Version || cfg.Version == c.config.Version && read.After(c.read) {
		c.config, c.read = cfg, read
	}
}

// versionPuts write the version copies of the set at version v.
func (s *ConfigStore) versionPuts(v int64) []types.TransactWriteItem {
	out := make([]types.TransactWriteItem, versionShards)
	for n := range out {
		item := s.key(versionKey(n))
		item["version"] = number(v)
		out[n] = types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: item}}
	}
	return out
}

// versionKey is the key of version copy n.
func versionKey(n int) (pk, sk string) { return pkWebhookVersion + strconv.Itoa(n), skVersion }

// ListWebhooks reads the webhooks as configured now (gate.WebhookLister).
func (s *ConfigStore) ListWebhooks(ctx context.Context) (gate.WebhookConfig, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: s.key(versionKey(rand.IntN(versionShards))), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return gate.WebhookConfig{}, fmt.Errorf("read webhook set version: %w", err)
	}
	var version int64
	if n, ok := out.Item["version"].(*types.AttributeValueMemberN); ok {
		if version, err = strconv.ParseInt(n.Value, 10, 64); err != nil {
			return gate.WebhookConfig{}, fmt.Errorf("webhook set version %q: %w", n.Value, err)
		}
	}
	if kept, read := s.hooks.get(); !read.IsZero() && kept.Version >= version {
		return kept, nil
	}
	return s.readWebhooks(ctx)
}

// WebhooksSince reads the webhooks as configured now, which is at version
// since or later (gate.WebhookLister).
func (s *ConfigStore) WebhooksSince(ctx context.Context, _ int64) ([]gate.Webhook, error) {
	cfg, err := s.ListWebhooks(ctx)
	return cfg.Webhooks, err
}

// readWebhooks reads the set (strongly consistent) and keeps it.
func (s *ConfigStore) readWebhooks(ctx context.Context) (gate.WebhookConfig, error) {
	began := time.Now()
	set, err := s.LoadWebhookSet(ctx)
	if err != nil {
		return gate.WebhookConfig{}, err
	}
	cfg := gate.WebhookConfig{Version: set.Version, Webhooks: make([]gate.Webhook, 0, len(set.Webhooks))}
	for _, w := range set.Webhooks {
		cfg.Webhooks = append(cfg.Webhooks, w.Webhook)
	}
	s.hooks.keep(cfg, began)
	return cfg, nil
}
