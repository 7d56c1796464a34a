package dynamo

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

var _ gate.DeliveryLog = (*DeliveryLog)(nil)

// DeliveryLog keeps every call attempt of every webhook in the delivery-log
// table (docs/internals/storage.md, "Delivery log"). Three kinds of items,
// each webhook's spread over logShards partition key values by its
// deliveries (FNV-1a of the delivery id), so that one busy webhook never
// concentrates on one key:
//   - an attempt: "L#<webhook>#<shard>", "<at>#<request id>#<run>#<attempt>";
//   - a delivery's reply: the same key, "C#<request id>#<run>", written by
//     the reply alone; a listing reads it for each call answered 2xx and
//     shows it as that call's outcome, so neither the call nor the reply
//     needs to know whether the other came first, and each is one write;
//   - an hour's counts: "H#<webhook>#<shard>", "<hour>": attempts, failures,
//     replies, the last failure, and one counter per latency bucket, added
//     up in the function instance and written at most once a minute
//     (countsBuffer), to a shard the instance picks at random when built.
//
// Attempts and replies expire DeliveryLogRetention after they are written,
// counts two days after their hour.
type DeliveryLog struct {
	db     *dynamodb.Client
	table  string
	counts *countsBuffer
	// countsShard is the shard this instance writes its counts to: many
	// instances spread over them, and one instance's writes to a key come
	// a minute apart at most.
	countsShard string
	now         func() time.Time // when counts are due; tests set it
}

// NewDeliveryLog uses the delivery-log table named table. Build one per
// function instance: it holds the instance's counts until they are written.
func NewDeliveryLog(db *dynamodb.Client, table string) *DeliveryLog {
	return &DeliveryLog{db: db, table: table, counts: newCountsBuffer(), countsShard: fmt.Sprintf("%02d", rand.IntN(logShards)), now: time.Now}
}

// logShards spreads a webhook's log and counts over this many partition key
// values: at 1,000 calls a second to one webhook, each takes about 63 calls
// a second, far below a partition's 1,000 write units (storage.md gives the
// units of a call).
const logShards = 16

// countsRetention is how long an hour's counts are kept after the hour.
const countsRetention = 48 * time.Hour

// hourLayout names an hour's counts item; it sorts by time.
const hourLayout = "2006-01-02T15"

// logShard is the shard of one delivery: all its attempts and its reply share it.
func logShard(webhookKey, id string, run int) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(gate.RunDeliveryID(id, webhookKey, run)))
	return fmt.Sprintf("%02d", h.Sum32()%logShards)
}

// AttemptPartition is the partition key of the attempts of one delivery
// (exported for the test of write units per key).
func AttemptPartition(webhookKey, id string, run int) string {
	return "L#" + webhookKey + "#" + logShard(webhookKey, id, run)
}

func countsPartition(webhookKey, shard string) string { return "H#" + webhookKey + "#" + shard }

func attemptSortKey(a gate.LoggedAttempt) string {
	return fmt.Sprintf("%s#%s#%d#%d", gate.FormatTime(a.At), a.PrivacyRequestID, a.Run, a.Attempt)
}

func replySortKey(id string, run int) string { return "C#" + id + "#" + strconv.Itoa(run) }

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func expiry(t time.Time) types.AttributeValue { return number(t.Unix()) }

func (l *DeliveryLog) key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str(pk), "sk": str(sk)}
}

// LogAttempt writes the attempt and counts it: one write, and the counts'
// when they are due (countsBuffer).
func (l *DeliveryLog) LogAttempt(ctx context.Context, webhookKey string, a gate.LoggedAttempt) error {
	item := map[string]types.AttributeValue{
		"pk": str(AttemptPartition(webhookKey, a.PrivacyRequestID, a.Run)), "sk": str(attemptSortKey(a)), "o": str(string(a.Outcome)),
		"expires_at": expiry(a.At.Add(gate.DeliveryLogRetention)),
	}
	if a.HTTPStatus != 0 {
		item["hs"] = number(int64(a.HTTPStatus))
	}
	if a.Latency > 0 || a.HTTPStatus != 0 {
		item["ms"] = number(a.Latency.Milliseconds())
	}
	if a.Error != "" {
		item["e"] = str(a.Error)
	}
	if a.Final {
		item["fin"] = &types.AttributeValueMemberBOOL{Value: true}
	}
	if _, err := l.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &l.table, Item: item}); err != nil {
		return fmt.Errorf("log attempt of webhook %q: %w", webhookKey, err)
	}
	return l.count(ctx, webhookKey, a.At, attemptCounts(a))
}

// LogReply keeps the reply of run of request id, which listings show as the
// outcome of its call, and counts it: one write, and the counts' when they
// are due.
func (l *DeliveryLog) LogReply(ctx context.Context, webhookKey, id string, run int, answer gate.WebhookState, at time.Time) error {
	_, err := l.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &l.table, Item: map[string]types.AttributeValue{
		"pk": str(AttemptPartition(webhookKey, id, run)), "sk": str(replySortKey(id, run)),
		"r": str(string(answer)), "expires_at": expiry(at.Add(gate.DeliveryLogRetention)),
	}})
	if err != nil {
		return fmt.Errorf("log reply to webhook %q: %w", webhookKey, err)
	}
	field := "el"
	if answer == gate.WebhookNotEligible {
		field = "ne"
	}
	return l.count(ctx, webhookKey, at, hourCounts{add: map[string]int64{field: 1}})
}

func attemptCounts(a gate.LoggedAttempt) hourCounts {
	c := hourCounts{add: map[string]int64{"n": 1}}
	if a.Latency > 0 || a.HTTPStatus != 0 {
		c.add["l"+strconv.FormatInt(gate.LatencyBucket(a.Latency.Milliseconds()), 10)] = 1
	}
	if a.Outcome == gate.WebhookFailed {
		c.add["f"] = 1
		c.failureAt, c.failureText = gate.FormatTime(a.At), a.Error
	}
	return c
}

// count adds c to the instance's counts of the hour of at, then writes
// the counts that are due, each key's with one UpdateItem. A write that
// fails keeps its counts for the next try; its error is returned (the
// callers log it and go on).
func (l *DeliveryLog) count(ctx context.Context, webhookKey string, at time.Time, c hourCounts) error {
	l.counts.add(countsKey{webhook: webhookKey, hour: at.UTC().Truncate(time.Hour)}, c)
	var errs []error
	for k, c := range l.counts.due(l.now()) {
		if err := l.writeCounts(ctx, k, c); err != nil {
			l.counts.add(k, c)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// writeCounts adds c to the counts item of k in the instance's shard: one
// ADD of every counter. Several instances' writes land in any order, so
// the last failure is set only over an earlier one; when a later one is
// already stored, the counters are added without it (a second write, as
// rare as two instances' failures of one webhook within a minute).
func (l *DeliveryLog) writeCounts(ctx context.Context, k countsKey, c hourCounts) error {
	values := map[string]types.AttributeValue{":x": expiry(k.hour.Add(time.Hour + countsRetention))}
	names := map[string]string{}
	var adds []string
	for _, f := range slices.Sorted(maps.Keys(c.add)) {
		names["#"+f], values[":"+f] = f, number(c.add[f])
		adds = append(adds, fmt.Sprintf("#%s :%s", f, f))
	}
	in := &dynamodb.UpdateItemInput{
		TableName: &l.table, Key: l.key(countsPartition(k.webhook, l.countsShard), k.hour.Format(hourLayout)),
		UpdateExpression: aws.String("SET expires_at = :x ADD " + strings.Join(adds, ", ")), ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	}
	if c.failureAt != "" {
		withFailure := *in
		withFailure.UpdateExpression = aws.String("SET expires_at = :x, lfa = :lfa, lf = :lf ADD " + strings.Join(adds, ", "))
		withFailure.ConditionExpression = aws.String("attribute_not_exists(lfa) OR lfa < :lfa")
		withFailure.ExpressionAttributeValues = maps.Clone(values)
		withFailure.ExpressionAttributeValues[":lfa"], withFailure.ExpressionAttributeValues[":lf"] = str(c.failureAt), str(c.failureText)
		_, err := l.db.UpdateItem(ctx, &withFailure)
		var later *types.ConditionalCheckFailedException
		if !errors.As(err, &later) {
			return countsError(k, err)
		}
	}
	_, err := l.db.UpdateItem(ctx, in)
	return countsError(k, err)
}

func countsError(k countsKey, err error) error {
	if err != nil {
		return fmt.Errorf("count deliveries of webhook %q: %w", k.webhook, err)
	}
	return nil
}

// eachShard runs f for every shard at once and returns the first error.
func eachShard(f func(k int, shard string) error) error {
	errs := make([]error, logShards)
	var wg sync.WaitGroup
	for k := range logShards {
		wg.Go(func() { errs[k] = f(k, fmt.Sprintf("%02d", k)) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// attemptsBefore bounds the first page: every attempt's sort key starts
// with a digit, and ':' sorts right after '9' (and before the links' 'C').
const attemptsBefore = ":"

// Attempts reads the newest size attempts before after from every shard
// and merges them, newest first; the next page starts after the last one.
func (l *DeliveryLog) Attempts(ctx context.Context, webhookKey string, size int, after string) ([]gate.LoggedAttempt, string, error) {
	before := after
	if before == "" {
		before = attemptsBefore
	}
	type row struct {
		sk string
		a  gate.LoggedAttempt
	}
	pages := make([][]row, logShards)
	more := make([]bool, logShards)
	err := eachShard(func(k int, shard string) error {
		out, err := l.db.Query(ctx, &dynamodb.QueryInput{
			TableName: &l.table, KeyConditionExpression: aws.String("pk = :pk AND sk < :before"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str("L#" + webhookKey + "#" + shard), ":before": str(before)},
			ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(int32(size)),
			// Strongly consistent: the failing-streak check reads the attempt just logged.
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return fmt.Errorf("list attempts of webhook %q: %w", webhookKey, err)
		}
		more[k] = len(out.LastEvaluatedKey) > 0
		for _, it := range out.Items {
			sk := it["sk"].(*types.AttributeValueMemberS).Value
			a, ok := attemptFromItem(sk, it)
			if ok {
				pages[k] = append(pages[k], row{sk, a})
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	var rows []row
	for _, p := range pages {
		rows = append(rows, p...)
	}
	slices.SortFunc(rows, func(x, y row) int { return strings.Compare(y.sk, x.sk) })
	next := ""
	if len(rows) > size || slices.Contains(more, true) {
		rows = rows[:min(size, len(rows))]
		if len(rows) > 0 {
			next = rows[len(rows)-1].sk
		}
	}
	out := make([]gate.LoggedAttempt, len(rows))
	for i, r := range rows {
		out[i] = r.a
	}
	if err := l.withReplies(ctx, webhookKey, out); err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// withReplies makes the reply of each call answered 2xx among as its
// outcome: one strongly consistent BatchGetItem of their deliveries'
// replies (a page holds at most 100 attempts).
func (l *DeliveryLog) withReplies(ctx context.Context, webhookKey string, as []gate.LoggedAttempt) error {
	at := map[string][]int{} // reply sort key -> the calls it answers
	var keys []map[string]types.AttributeValue
	for i, a := range as {
		if a.Outcome != gate.WebhookCalled {
			continue
		}
		sk := replySortKey(a.PrivacyRequestID, a.Run)
		if at[sk] == nil {
			keys = append(keys, l.key(AttemptPartition(webhookKey, a.PrivacyRequestID, a.Run), sk))
		}
		at[sk] = append(at[sk], i)
	}
	wait := 10 * time.Millisecond
	for len(keys) > 0 {
		out, err := l.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
			RequestItems: map[string]types.KeysAndAttributes{l.table: {Keys: keys, ConsistentRead: aws.Bool(true)}},
		})
		if err != nil {
			return fmt.Errorf("read replies to webhook %q: %w", webhookKey, err)
		}
		for _, it := range out.Responses[l.table] {
			if r := stringAttr(it, "r"); r != "" {
				for _, i := range at[stringAttr(it, "sk")] {
					as[i].Outcome = gate.WebhookState(r)
				}
			}
		}
		keys = out.UnprocessedKeys[l.table].Keys
		if len(keys) > 0 {
			if err := pause(ctx, &wait); err != nil {
				return err
			}
		}
	}
	return nil
}

// attemptFromItem reads an attempt back; ok is false for an item that is not one.
func attemptFromItem(sk string, it map[string]types.AttributeValue) (gate.LoggedAttempt, bool) {
	parts := strings.Split(sk, "#")
	if len(parts) != 4 {
		return gate.LoggedAttempt{}, false
	}
	at, err := time.Parse(time.RFC3339Nano, parts[0])
	if err != nil {
		return gate.LoggedAttempt{}, false
	}
	run, _ := strconv.Atoi(parts[2])
	attempt, _ := strconv.Atoi(parts[3])
	a := gate.LoggedAttempt{PrivacyRequestID: parts[1], Run: run, Attempt: attempt, At: at,
		Outcome: gate.WebhookState(stringAttr(it, "o")), HTTPStatus: int(numberAttr(it, "hs")),
		Latency: time.Duration(numberAttr(it, "ms")) * time.Millisecond, Error: stringAttr(it, "e")}
	if fin, ok := it["fin"].(*types.AttributeValueMemberBOOL); ok {
		a.Final = fin.Value
	}
	return a, true
}

func stringAttr(it map[string]types.AttributeValue, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func numberAttr(it map[string]types.AttributeValue, name string) int64 {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

// Counts adds up the counts of the hours after the one since falls in, in
// every shard: the current hour and the 23 before it for a day's health.
func (l *DeliveryLog) Counts(ctx context.Context, webhookKey string, since time.Time) (gate.HealthCounts, error) {
	from := since.UTC().Truncate(time.Hour).Format(hourLayout)
	items := make([][]map[string]types.AttributeValue, logShards)
	err := eachShard(func(k int, shard string) error {
		p := dynamodb.NewQueryPaginator(l.db, &dynamodb.QueryInput{
			TableName: &l.table, KeyConditionExpression: aws.String("pk = :pk AND sk > :from"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(countsPartition(webhookKey, shard)), ":from": str(from)},
		})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("read counts of webhook %q: %w", webhookKey, err)
			}
			items[k] = append(items[k], out.Items...)
		}
		return nil
	})
	if err != nil {
		return gate.HealthCounts{}, err
	}
	c := gate.HealthCounts{Latencies: map[int64]int{}}
	for _, shard := range items {
		for _, it := range shard {
			c.Calls += int(numberAttr(it, "n"))
			c.Failures += int(numberAttr(it, "f"))
			c.Eligible += int(numberAttr(it, "el"))
			c.NotEligible += int(numberAttr(it, "ne"))
			for name := range it {
				if ms, err := strconv.ParseInt(strings.TrimPrefix(name, "l"), 10, 64); err == nil && strings.HasPrefix(name, "l") {
					c.Latencies[ms] += int(numberAttr(it, name))
				}
			}
			if at := stringAttr(it, "lfa"); at != "" && (c.LastFailureAt == nil || gate.FormatTime(*c.LastFailureAt) < at) {
				t, _ := time.Parse(time.RFC3339Nano, at)
				c.LastFailureAt, c.LastFailure = &t, stringAttr(it, "lf")
			}
		}
	}
	return c, nil
}
