package dynamo

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

// The requests table's indexes for the system (docs/internals/storage.md),
// all KEYS_ONLY. Their names and keys are template.yaml's.
const (
	indexCreated = "created" // sh, sk: every request, newest first
	indexStatus  = "status"  // ss, sk: one status, newest first
	indexDue     = "due"     // sh, du: sparse, the requests the reconciler owes a step
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

// dueSetShard is the deadline index's partition key: the request's due set
// (gate.DueSet: open or decided) and its shard. A decision moves the entry
// once; no other status change writes the index.
func dueSetShard(st gate.Status, id string) string {
	if st.Open() {
		return "open#" + shard(id)
	}
	return "decided#" + shard(id)
}

// dueKey is the reconciler's cursor in the due index: "<due micros>#<id>".
func dueKey(at time.Time, id string) string { return strconv.FormatInt(at.UnixMicro(), 10) + "#" + id }

// indexClauses are the SET and REMOVE clauses that keep the status, due and
// deadline indexes right for a write moving request id into st at `at`; every write
// that changes a status goes through it, so no transition can forget an
// index. Writes that change no status (a delivery or reply recorded) do not
// call it and so write no index. A request already due (read: its due as
// read, nil when unknown) no later than the move's own first due keeps its
// due key, on the condition that it still is (the reconciler may have
// pushed it since the read): the reconciler looks at it by then anyway,
// and the index is not written.
func (s *RequestStore) indexClauses(id string, st gate.Status, at time.Time, read *time.Time, values map[string]types.AttributeValue) (set, remove, cond []string) {
	values[":status_shard"] = stringValue(statusShard(st, id))
	values[":due_set"] = stringValue(dueSetShard(st, id))
	set = []string{"#status_shard = :status_shard", "#due_set = :due_set"}
	due, ok := gate.FirstDue(st, at, s.reconcileAfter)
	switch {
	case !ok:
		return set, []string{"#due"}, nil
	case read != nil && !read.After(due):
		values[":due_by"] = micros(due)
		return set, nil, []string{"#due <= :due_by"}
	}
	values[":due"] = micros(due)
	return append(set, "#due = :due"), nil, nil
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
func (s *RequestStore) moveIndexes(u *webhookUpdate, st gate.Status, read *time.Time) {
	set, remove, cond := s.indexClauses(u.id, st, u.at, read, u.values)
	u.set, u.remove, u.cond = append(u.set, set...), append(u.remove, remove...), append(u.cond, cond...)
}
