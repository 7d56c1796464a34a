package dynamo

import (
	"context"
	"fmt"
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
// keeps the set it last read, with its version, and:
//   - ListWebhooks (a submission's snapshot) reads only the version item,
//     strongly consistent and tiny (one read unit), and reads the set again
//     only when the version moved: the snapshot reflects every change
//     completed before it;
//   - WebhooksSince (a reply) serves the kept set while it is at least the
//     version asked for (the request's snapshot's) and younger than
//     WebhookCacheTTL, and reads the set again otherwise.
//
// The version item is written with the set, in the same transaction.

// WebhookCacheTTL is how long a reply may decide on a webhook set read
// earlier (at least as new as the request's snapshot): how late a deletion
// can be noticed by replies.
const WebhookCacheTTL = 5 * time.Second

// webhookCache is the set a ConfigStore read last.
type webhookCache struct {
	ttl    time.Duration // WebhookCacheTTL; tests shorten it
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

// versionPut writes the version item of the set at version v.
func (s *ConfigStore) versionPut(v int64) *types.Put {
	item := s.key(pkWebhooks, skVersion)
	item["version"] = number(v)
	return &types.Put{TableName: &s.table, Item: item}
}

// ListWebhooks reads the webhooks as configured now (gate.WebhookLister).
func (s *ConfigStore) ListWebhooks(ctx context.Context) (gate.WebhookConfig, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: s.key(pkWebhooks, skVersion), ConsistentRead: aws.Bool(true)})
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

// WebhooksSince reads the webhooks as configured at version since or later,
// from the kept set while it is young enough (gate.WebhookLister).
func (s *ConfigStore) WebhooksSince(ctx context.Context, since int64) ([]gate.Webhook, error) {
	if kept, read := s.hooks.get(); !read.IsZero() && kept.Version >= since && time.Since(read) < s.hooks.ttl {
		return kept.Webhooks, nil
	}
	cfg, err := s.readWebhooks(ctx)
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
