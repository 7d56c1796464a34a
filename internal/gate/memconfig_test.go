package gate

import (
	"context"
	"slices"
	"sync"
	"time"
)

// memConfig is an in-memory ConfigStore for the admin use cases, with the
// same conditions as the DynamoDB one. It also "seals" by keeping the
// plaintext, so tests can see what the dispatcher would open.
type memConfig struct {
	ConfigStore // DeleteConnection is not used here
	mu          sync.Mutex
	conns       map[string]Connection
	secrets     map[string][]byte
	set         WebhookSet
	// saveConnection, when set, answers SaveConnection instead.
	saveConnection func(ConnectionPatch) error
}

func newMemConfig() *memConfig {
	return &memConfig{conns: map[string]Connection{}, secrets: map[string][]byte{}}
}

func (m *memConfig) GetConnection(_ context.Context, key string) (Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.conns[key]
	if !ok {
		return Connection{}, &NotFoundError{Msg: "no connection " + key}
	}
	return c, nil
}

func (m *memConfig) ListConnections(context.Context) ([]Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Connection
	for _, c := range m.conns {
		out = append(out, c)
	}
	return out, nil
}

func (m *memConfig) SaveConnection(_ context.Context, p ConnectionPatch) error {
	if m.saveConnection != nil {
		return m.saveConnection(p)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.conns[p.Connection.Key]
	if ok == p.Create || ok && old.Version != p.Connection.Version {
		return &ConflictError{Msg: "changed"}
	}
	c := p.Connection
	c.Version++
	m.conns[c.Key] = c
	return nil
}

func (m *memConfig) GetSealedSecrets(_ context.Context, key string) (*SealedSecrets, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.conns[key]; !ok {
		return nil, &NotFoundError{Msg: "no connection " + key}
	}
	s, ok := m.secrets[key]
	if !ok {
		return nil, nil
	}
	return &SealedSecrets{Sealed: s}, nil
}

func (m *memConfig) SaveSecrets(_ context.Context, key string, s SealedSecrets, was []byte, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.conns[key]; !ok {
		return &NotFoundError{Msg: "no connection " + key}
	}
	if old, ok := m.secrets[key]; ok != (was != nil) || !slices.Equal(old, was) {
		return &ConflictError{Msg: "changed"}
	}
	m.secrets[key] = s.Sealed
	return nil
}

func (m *memConfig) LoadWebhookSet(context.Context) (WebhookSet, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.set, nil
}

func (m *memConfig) SaveWebhookSet(_ context.Context, set WebhookSet, connectionKeys []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if set.Version != m.set.Version {
		return &ConflictError{Msg: "changed"}
	}
	for _, k := range connectionKeys {
		if _, ok := m.conns[k]; !ok {
			return &ConflictError{Msg: "changed"}
		}
	}
	m.set = WebhookSet{Version: set.Version + 1, Webhooks: set.Webhooks}
	return nil
}

// plainSealer "seals" as the identity: the tests here are about what is
// kept and used, not about encryption (internal/secrets tests that).
type plainSealer struct{}

func (plainSealer) Seal(_ context.Context, _ map[string]string, p []byte) ([]byte, error) {
	return slices.Clone(p), nil
}

func (plainSealer) Open(_ context.Context, _ map[string]string, s []byte) ([]byte, error) {
	return slices.Clone(s), nil
}
