// Package dynamo keeps the gate's state in DynamoDB. Every state change is a
// conditional write; a lost condition becomes a gate.ConflictError.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

// Config-table keys: one item per connection, one item for the whole webhook set.
const (
	pkConnection = "CONNECTION"
	pkWebhooks   = "WEBHOOKS"
	skWebhookSet = "SET"
	// The set's version alone, in versionShards copies (webhookcache.go).
	pkWebhookVersion = "WEBHOOKS_VERSION#"
	skVersion        = "VERSION"
)

var (
	_ gate.ConfigStore   = (*ConfigStore)(nil)
	_ gate.WebhookLister = (*ConfigStore)(nil)
)

// ConfigStore keeps connections and pre-approval webhooks in the config table.
type ConfigStore struct {
	db    *dynamodb.Client
	table string
	hooks webhookCache
}

// NewConfigStore uses the config table named table.
func NewConfigStore(db *dynamodb.Client, table string) *ConfigStore {
	return &ConfigStore{db: db, table: table}
}

type connectionItem struct {
	PK                string `dynamodbav:"pk"`
	SK                string `dynamodbav:"sk"`
	Name              string `dynamodbav:"name"`
	ConnectionType    string `dynamodbav:"connection_type"`
	Access            string `dynamodbav:"access"`
	Description       string `dynamodbav:"description"`
	Disabled          bool   `dynamodbav:"disabled"`
	CreatedAt         string `dynamodbav:"created_at"`
	UpdatedAt         string `dynamodbav:"updated_at"`
	Version           int64  `dynamodbav:"version"`
	SecretsURL        string `dynamodbav:"secrets_url,omitempty"`
	SecretsHasHeaders bool   `dynamodbav:"secrets_has_headers,omitempty"`
	SecretsSealed     []byte `dynamodbav:"secrets_sealed,omitempty"`
}

const timeFormat = time.RFC3339Nano

func (it connectionItem) connection() gate.Connection {
	c := gate.Connection{
		Key: it.SK, Name: it.Name, ConnectionType: it.ConnectionType, Access: it.Access,
		Description: it.Description, Disabled: it.Disabled,
		CreatedAt: parseTime(it.CreatedAt), UpdatedAt: parseTime(it.UpdatedAt), Version: it.Version,
	}
	if len(it.SecretsSealed) > 0 {
		c.Secrets = &gate.SecretsView{URL: it.SecretsURL, HasHeaders: it.SecretsHasHeaders}
	}
	return c
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeFormat, s)
	return t
}

func fmtTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func (s *ConfigStore) key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}
}

func (s *ConfigStore) getConnectionItem(ctx context.Context, key string) (connectionItem, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: s.key(pkConnection, key), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return connectionItem{}, fmt.Errorf("get connection %q: %w", key, err)
	}
	if out.Item == nil {
		return connectionItem{}, &gate.NotFoundError{Msg: "connection " + key + " not found"}
	}
	var it connectionItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return connectionItem{}, fmt.Errorf("decode connection %q: %w", key, err)
	}
	return it, nil
}

// GetConnection reads one connection.
func (s *ConfigStore) GetConnection(ctx context.Context, key string) (gate.Connection, error) {
	it, err := s.getConnectionItem(ctx, key)
	if err != nil {
		return gate.Connection{}, err
	}
	return it.connection(), nil
}

// ListConnections reads every connection.
func (s *ConfigStore) ListConnections(ctx context.Context) ([]gate.Connection, error) {
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 &s.table,
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pkConnection}},
		ConsistentRead:            aws.Bool(true),
	})
	var out []gate.Connection
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list connections: %w", err)
		}
		var items []connectionItem
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &items); err != nil {
			return nil, fmt.Errorf("decode connections: %w", err)
		}
		for _, it := range items {
			out = append(out, it.connection())
		}
	}
	return out, nil
}

// SaveConnection creates (if absent) or updates the descriptive fields (if
// still at the version read), writing version c.Version+1.
func (s *ConfigStore) SaveConnection(ctx context.Context, p gate.ConnectionPatch) error {
	c := p.Connection
	if p.Create {
		item, err := attributevalue.MarshalMap(connectionItem{
			PK: pkConnection, SK: c.Key, Name: c.Name, ConnectionType: c.ConnectionType, Access: c.Access,
			Description: c.Description, Disabled: c.Disabled, CreatedAt: fmtTime(c.CreatedAt), UpdatedAt: fmtTime(c.UpdatedAt),
			Version: c.Version + 1,
		})
		if err != nil {
			return err
		}
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(sk)")})
		return conditional(err, "create connection "+c.Key)
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &s.table,
		Key:                      s.key(pkConnection, c.Key),
		ConditionExpression:      aws.String("attribute_exists(sk) AND version = :v"),
		UpdateExpression:         aws.String("SET #n = :n, connection_type = :t, access = :a, description = :d, disabled = :x, updated_at = :u, version = :next"),
		ExpressionAttributeNames: map[string]string{"#n": "name"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":v": number(c.Version), ":next": number(c.Version + 1),
			":n": &types.AttributeValueMemberS{Value: c.Name}, ":t": &types.AttributeValueMemberS{Value: c.ConnectionType},
			":a": &types.AttributeValueMemberS{Value: c.Access}, ":d": &types.AttributeValueMemberS{Value: c.Description},
			":x": &types.AttributeValueMemberBOOL{Value: c.Disabled}, ":u": &types.AttributeValueMemberS{Value: fmtTime(c.UpdatedAt)},
		},
	})
	return conditional(err, "update connection "+c.Key)
}

// GetSealedSecrets reads a connection's sealed secrets (nil when none).
func (s *ConfigStore) GetSealedSecrets(ctx context.Context, key string) (*gate.SealedSecrets, error) {
	it, err := s.getConnectionItem(ctx, key)
	if err != nil || len(it.SecretsSealed) == 0 {
		return nil, err
	}
	return &gate.SealedSecrets{View: gate.SecretsView{URL: it.SecretsURL, HasHeaders: it.SecretsHasHeaders}, Sealed: it.SecretsSealed}, nil
}

// SaveSecrets replaces the secrets of an existing connection if they are
// still was (nil: none). A refused condition is a *gate.ConflictError when
// the connection is there, a *gate.NotFoundError when it is gone.
func (s *ConfigStore) SaveSecrets(ctx context.Context, key string, sec gate.SealedSecrets, was []byte, updatedAt time.Time) error {
	values := map[string]types.AttributeValue{
		":url": &types.AttributeValueMemberS{Value: sec.View.URL}, ":h": &types.AttributeValueMemberBOOL{Value: sec.View.HasHeaders},
		":s": &types.AttributeValueMemberB{Value: sec.Sealed}, ":u": &types.AttributeValueMemberS{Value: fmtTime(updatedAt)},
	}
	cond := "attribute_exists(sk) AND attribute_not_exists(secrets_sealed)"
	if was != nil {
		cond = "attribute_exists(sk) AND secrets_sealed = :was"
		values[":was"] = &types.AttributeValueMemberB{Value: was}
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           &s.table,
		Key:                                 s.key(pkConnection, key),
		ConditionExpression:                 aws.String(cond),
		UpdateExpression:                    aws.String("SET secrets_url = :url, secrets_has_headers = :h, secrets_sealed = :s, updated_at = :u"),
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if ccf.Item == nil {
			return &gate.NotFoundError{Msg: "connection " + key + " not found"}
		}
		return &gate.ConflictError{Msg: "secrets of connection " + key + ": changed concurrently"}
	}
	if err != nil {
		return fmt.Errorf("save secrets of connection %q: %w", key, err)
	}
	return nil
}

type webhookItem struct {
	Key                 string              `dynamodbav:"key"`
	Name                string              `dynamodbav:"name"`
	ConnectionConfigKey string              `dynamodbav:"connection_config_key"`
	PolicyActions       []string            `dynamodbav:"policy_actions"`
	Shadow              bool                `dynamodbav:"shadow,omitempty"` // absent: enforce
	CreatedAt           string              `dynamodbav:"created_at"`
	UpdatedAt           string              `dynamodbav:"updated_at"`
	SigningSecrets      []signingSecretItem `dynamodbav:"signing_secrets"`
}

// signingSecretItem is one sealed signing secret; valid_until is set once a
// rotation has replaced it.
type signingSecretItem struct {
	Sealed     []byte `dynamodbav:"sealed"`
	ValidUntil string `dynamodbav:"valid_until,omitempty"`
}

type webhookSetItem struct {
	PK       string        `dynamodbav:"pk"`
	SK       string        `dynamodbav:"sk"`
	Version  int64         `dynamodbav:"version"`
	Webhooks []webhookItem `dynamodbav:"webhooks"`
}

// LoadWebhookSet reads the whole webhook set (version 0 when never written).
func (s *ConfigStore) LoadWebhookSet(ctx context.Context) (gate.WebhookSet, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: s.key(pkWebhooks, skWebhookSet), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return gate.WebhookSet{}, fmt.Errorf("load webhook set: %w", err)
	}
	if out.Item == nil {
		return gate.WebhookSet{}, nil
	}
	var it webhookSetItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return gate.WebhookSet{}, fmt.Errorf("decode webhook set: %w", err)
	}
	set := gate.WebhookSet{Version: it.Version}
	for _, w := range it.Webhooks {
		sw := gate.StoredWebhook{Webhook: gate.Webhook{
			Key: w.Key, Name: w.Name, ConnectionKey: w.ConnectionConfigKey,
			PolicyActions: w.PolicyActions, Mode: modeOf(w.Shadow),
			CreatedAt: parseTime(w.CreatedAt), UpdatedAt: parseTime(w.UpdatedAt),
		}}
		for _, ss := range w.SigningSecrets {
			sw.SigningSecrets = append(sw.SigningSecrets, gate.SealedSigningSecret{Sealed: ss.Sealed, ValidUntil: parseTime(ss.ValidUntil)})
		}
		set.Webhooks = append(set.Webhooks, sw)
	}
	return set, nil
}

// putSet is the conditional put of the set at set.Version+1.
func (s *ConfigStore) putSet(set gate.WebhookSet) (*types.Put, error) {
	it := webhookSetItem{PK: pkWebhooks, SK: skWebhookSet, Version: set.Version + 1, Webhooks: []webhookItem{}}
	for _, w := range set.Webhooks {
		wi := webhookItem{
			Key: w.Key, Name: w.Name, ConnectionConfigKey: w.ConnectionKey,
			PolicyActions: w.PolicyActions, Shadow: w.Mode == gate.ModeShadow,
			CreatedAt: fmtTime(w.CreatedAt), UpdatedAt: fmtTime(w.UpdatedAt), SigningSecrets: []signingSecretItem{},
		}
		for _, ss := range w.SigningSecrets {
			si := signingSecretItem{Sealed: ss.Sealed}
			if !ss.ValidUntil.IsZero() {
				si.ValidUntil = fmtTime(ss.ValidUntil)
			}
			wi.SigningSecrets = append(wi.SigningSecrets, si)
		}
		it.Webhooks = append(it.Webhooks, wi)
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return nil, err
	}
	put := &types.Put{TableName: &s.table, Item: item}
	if set.Version == 0 {
		put.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		put.ConditionExpression = aws.String("version = :v")
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":v": number(set.Version)}
	}
	return put, nil
}

// SaveWebhookSet writes the set if its version and its connections still hold.
func (s *ConfigStore) SaveWebhookSet(ctx context.Context, set gate.WebhookSet, connectionKeys []string) error {
	put, err := s.putSet(set)
	if err != nil {
		return err
	}
	items := append([]types.TransactWriteItem{{Put: put}}, s.versionPuts(set.Version+1)...)
	for _, k := range connectionKeys {
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: &s.table, Key: s.key(pkConnection, k), ConditionExpression: aws.String("attribute_exists(sk)"),
		}})
	}
	err = transactWrite(ctx, s.db, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return conditional(err, "save webhook set")
}

// DeleteConnection deletes a connection and writes the remaining webhook set in one transaction.
func (s *ConfigStore) DeleteConnection(ctx context.Context, key string, set gate.WebhookSet) error {
	put, err := s.putSet(set)
	if err != nil {
		return err
	}
	err = transactWrite(ctx, s.db, &dynamodb.TransactWriteItemsInput{TransactItems: append([]types.TransactWriteItem{
		{Delete: &types.Delete{TableName: &s.table, Key: s.key(pkConnection, key), ConditionExpression: aws.String("attribute_exists(sk)")}},
		{Put: put},
	}, s.versionPuts(set.Version+1)...)})
	return conditional(err, "delete connection "+key)
}

// conditional turns a failed condition (plain or in a transaction) into a ConflictError.
func conditional(err error, what string) error {
	if err == nil {
		return nil
	}
	if isConditionFailed(err) {
		return &gate.ConflictError{Msg: what + ": changed concurrently"}
	}
	return fmt.Errorf("%s: %w", what, err)
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true
	}
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		for _, r := range tc.CancellationReasons {
			if code := aws.ToString(r.Code); code == "ConditionalCheckFailed" || code == "TransactionConflict" {
				return true
			}
		}
	}
	var tcf *types.TransactionConflictException
	return errors.As(err, &tcf)
}
