package dynamo

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

// The requests table's three KEYS_ONLY global secondary indexes
// (docs/storage.md). Their names and keys are template.yaml's.
const (
	indexCreated = "created" // created_shard, sort_key: every request, newest first
	indexStatus  = "status"  // status_shard, sort_key: one status, newest first
	indexDue     = "due"     // due_shard, due_at: sparse, the requests the reconciler owes a step
)

// ShardCount spreads each index key over this many partition key values, so
// that no value is shared by all requests (or all requests of one status).
const ShardCount = 16

const shardCount = ShardCount

// shard is FNV-1a of the request id mod shardCount, as "00".."15": it never
// changes over a request's life.
func shard(id string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return fmt.Sprintf("%02d", h.Sum32()%shardCount)
}

func shards() []string {
	out := make([]string, shardCount)
	for i := range out {
		out[i] = fmt.Sprintf("%02d", i)
	}
	return out
}

// statusShard is the status index's partition key: "<status>#<shard>".
func statusShard(st gate.Status, id string) string { return string(st) + "#" + shard(id) }

// dueKey is the due index's sort key: "<due time RFC 3339 micro>#<id>",
// unique, and ordered by time since every time has the same length.
func dueKey(at time.Time, id string) string { return gate.FormatTime(at) + "#" + id }

// dueTime reads the time back from a due key.
func dueTime(key string) (time.Time, error) {
	at, _, _ := strings.Cut(key, "#")
	return time.Parse(time.RFC3339Nano, at)
}

// indexClauses are the SET and REMOVE clauses that keep the status and due
// indexes right for a write moving request id into st at `at`; every write
// that changes a status goes through it, so no transition can forget an
// index. Writes that change no status (a delivery or reply recorded) do not
// call it and so write no index.
func (s *RequestStore) indexClauses(id string, st gate.Status, at time.Time, values map[string]types.AttributeValue) (set, remove []string) {
	values[":status_shard"] = stringValue(statusShard(st, id))
	set = []string{"status_shard = :status_shard"}
	due, ok := gate.FirstDue(st, at, s.reconcileAfter)
	if !ok {
		return set, []string{"due_shard", "due_at"}
	}
	values[":due_shard"], values[":due_at"] = stringValue(shard(id)), stringValue(dueKey(due, id))
	return append(set, "due_shard = :due_shard", "due_at = :due_at"), nil
}

// updateExpression joins SET and REMOVE clauses.
func updateExpression(set, remove []string) string {
	e := "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		e += " REMOVE " + strings.Join(remove, ", ")
	}
	return e
}

// moveIndexes adds to u the index clauses of its move into st.
func (s *RequestStore) moveIndexes(u *webhookUpdate, st gate.Status) {
	set, remove := s.indexClauses(u.id, st, u.at, u.values)
	u.set, u.remove = append(u.set, set...), append(u.remove, remove...)
}
