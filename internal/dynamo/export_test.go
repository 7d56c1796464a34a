package dynamo

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

// SetQueryLimit caps the keys of one index Query page, so that a test's
// listing needs several DynamoDB pages whatever the item sizes.
func SetQueryLimit(s *RequestStore, n int) { s.queryLimit = n }

// ArchiveID is the id of the archive item of a request's pre-approval run.
var ArchiveID = archiveID

// IndexAttrs are the attributes the requests table's indexes are keyed on.
var IndexAttrs = []string{AttrStatus, attrShard, attrStatusShard, attrSortKey, attrDue, attrDueDate}

// UnreadableDueItem is a due approved request whose stored times cannot be
// read (a string where a time is a number), due at dueMicros.
func UnreadableDueItem(id string, dueMicros int64) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrID: stringValue(id), AttrStatus: stringValue(string(gate.StatusApproved)), attrShard: stringValue(shard(id)),
		attrSortKey: stringValue("yesterday#" + id), attrUpdatedAt: stringValue("yesterday"), attrDue: number(dueMicros),
	}
}

// SetDeliveryLogClock makes now the clock that says when l's counts are due,
// and shard the shard it writes them to.
func SetDeliveryLogClock(l *DeliveryLog, now func() time.Time, shard int) {
	l.now, l.countsShard = now, fmt.Sprintf("%02d", shard)
}
