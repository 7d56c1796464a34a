package main

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/dynamo"
)

// The capacity model (DEVELOPMENT.md "Benchmarks"), from DynamoDB's documented rules:
//   - an item's size is the sum of its attribute names' and values' sizes;
//   - a write costs one write unit per started 1 KB of the larger of the
//     item before and after it; a refused conditional write costs the same;
//   - a read costs one read unit per started 4 KB (a Query sums the items
//     it returns before rounding; BatchGetItem rounds each item), half of
//     it when eventually consistent;
//   - each global secondary index is written as its projection declares
//     (template.yaml): an index item holds the table's and the index's keys,
//     plus the INCLUDE attributes or, for ALL, the whole item. A write that
//     gives an item the index's key puts an index item; one that removes it
//     deletes one; one that changes it does both; one that changes only
//     projected attributes writes the index item once; one that changes no
//     projected attribute writes nothing there. Each index write costs a
//     write unit per started 1 KB of the index item.
const (
	writeUnitBytes = 1024
	readUnitBytes  = 4096
)

// tableModel is one table of template.yaml: its key and its indexes.
type tableModel struct {
	ID, Name      string // logical id, physical name
	Hash, Range   string
	Indexes       []indexModel
	TableKeyAttrs []string
}

type indexModel struct {
	Name        string
	Hash, Range string
	Projection  string   // KEYS_ONLY, INCLUDE or ALL
	NonKey      []string // INCLUDE's NonKeyAttributes
}

// loadTableModel reads table id's keys and global secondary indexes from the template.
func loadTableModel(t *stack.Template, s *stack.Stack, id string) (tableModel, error) {
	r, ok := t.Resources[id]
	if !ok {
		return tableModel{}, fmt.Errorf("template.yaml has no %s", id)
	}
	m := tableModel{ID: id, Name: s.Resources[id].Ref}
	m.Hash, m.Range = keyAttrs(r.Properties["KeySchema"])
	m.TableKeyAttrs = []string{m.Hash}
	if m.Range != "" {
		m.TableKeyAttrs = append(m.TableKeyAttrs, m.Range)
	}
	for _, g := range asList(r.Properties["GlobalSecondaryIndexes"]) {
		idx := indexModel{Name: fmt.Sprint(stack.Dig(g, "IndexName")), Projection: fmt.Sprint(stack.Dig(g, "Projection", "ProjectionType"))}
		idx.Hash, idx.Range = keyAttrs(stack.Dig(g, "KeySchema"))
		for _, a := range asList(stack.Dig(g, "Projection", "NonKeyAttributes")) {
			idx.NonKey = append(idx.NonKey, fmt.Sprint(a))
		}
		m.Indexes = append(m.Indexes, idx)
	}
	return m, nil
}

func keyAttrs(schema any) (hash, rng string) {
	for _, k := range asList(schema) {
		switch fmt.Sprint(stack.Dig(k, "KeyType")) {
		case "HASH":
			hash = fmt.Sprint(stack.Dig(k, "AttributeName"))
		case "RANGE":
			rng = fmt.Sprint(stack.Dig(k, "AttributeName"))
		}
	}
	return hash, rng
}

func asList(v any) []any { l, _ := v.([]any); return l }

func units(bytes, unit int) float64 { return math.Max(1, math.Ceil(float64(bytes)/float64(unit))) }

// ledger is the capacity one run used, and where its writes landed.
type ledger struct {
	WCU, RCU float64
	WCUBy    map[string]float64 // by table or "table/index"
	keys     map[string]*keyWrites
	MaxItem  int // the largest item image seen, bytes
}

// keyWrites are the write units one partition key value received, and for
// which requests.
type keyWrites struct {
	WCU      float64
	Requests map[string]bool
}

func newLedger() *ledger {
	return &ledger{WCUBy: map[string]float64{}, keys: map[string]*keyWrites{}}
}

func (l *ledger) write(where, keyValue, requestID string, wcu float64) {
	l.WCU += wcu
	l.WCUBy[where] += wcu
	k := l.keys[where+" = "+keyValue]
	if k == nil {
		k = &keyWrites{Requests: map[string]bool{}}
		l.keys[where+" = "+keyValue] = k
	}
	k.WCU += wcu
	k.Requests[requestID] = true
}

// shardBurst is how much busier than the mean the busiest of
// dynamo.ShardCount shards is in one second at 1,000 requests a second: each
// shard's requests are binomial(1000, 1/16), and its 99.9th percentile is
// about the mean plus 3 standard deviations.
var shardBurst = func() float64 {
	k := 1000.0 / dynamo.ShardCount
	return (k + 3*math.Sqrt(k*(1-1.0/dynamo.ShardCount))) / k
}()

// shardedValue matches a sharded key value: a prefix (a status and "#", or
// nothing) and the shard, "00".."15".
var shardedValue = regexp.MustCompile(`^(.*?)(\d\d)$`)

// hottestAt1000 is the busiest partition key value at 1,000 requests a
// second, and its units a second, from the units each key value ("<table
// or table/index> = <value>") took over n requests. Keys own reports a
// request's own item (written or read for that request only). A sharded
// index's values are added up over their shards and spread evenly, times
// shardBurst: the distribution, not the few requests a run makes, says how
// busy a shard gets.
func hottestAt1000(units map[string]float64, own func(key string) bool, n int) (string, float64) {
	type pattern struct {
		units   float64
		sharded bool
	}
	groups := map[string]*pattern{}
	for key, u := range units {
		if own(key) {
			continue
		}
		where, value, _ := strings.Cut(key, " = ")
		name, sharded := key, false
		if m := shardedValue.FindStringSubmatch(value); m != nil && strings.Contains(where, "/") {
			name, sharded = where+" = "+m[1]+"<shard>", true
		}
		if groups[name] == nil {
			groups[name] = &pattern{sharded: sharded}
		}
		groups[name].units += u
	}
	top, rate := "", 0.0
	for name, g := range groups {
		r := g.units / float64(n) * 1000
		if g.sharded {
			r = r / dynamo.ShardCount * shardBurst
		}
		if r > rate || r == rate && name < top {
			top, rate = name, r
		}
	}
	return top, rate
}

// hotWrites is hottestAt1000 of the ledger's write units: the requests
// table's own key (a request id) is a request's own.
func (l *ledger) hotWrites(table string, n int) (string, float64) {
	units := map[string]float64{}
	for k, w := range l.keys {
		units[k] = w.WCU
	}
	return hottestAt1000(units, func(key string) bool { return strings.HasPrefix(key, table+" = ") }, n)
}

// busiestOwn is the most write units one request's own key value received.
func (l *ledger) busiestOwn() float64 {
	top := 0.0
	for _, w := range l.keys {
		if len(w.Requests) == 1 {
			top = math.Max(top, w.WCU)
		}
	}
	return top
}

// record prices one stream record of table m (a write that changed the item).
func (l *ledger) record(m tableModel, old, new map[string]ddbtypes.AttributeValue, requestID string) {
	oldSize, newSize := dynamo.ItemSize(old), dynamo.ItemSize(new)
	l.MaxItem = max(l.MaxItem, oldSize, newSize)
	keyOf := old
	if new != nil {
		keyOf = new
	}
	l.write(m.ID, str(keyOf[m.Hash]), requestID, units(max(oldSize, newSize), writeUnitBytes))
	for _, idx := range m.Indexes {
		where := m.ID + "/" + idx.Name
		oldIn, newIn := idx.holds(old), idx.holds(new)
		sameKey := oldIn && newIn && reflect.DeepEqual(old[idx.Hash], new[idx.Hash]) &&
			(idx.Range == "" || reflect.DeepEqual(old[idx.Range], new[idx.Range]))
		po, pn := idx.project(m, old), idx.project(m, new)
		switch {
		case sameKey:
			if !reflect.DeepEqual(po, pn) {
				l.write(where, str(new[idx.Hash]), requestID, units(max(dynamo.ItemSize(po), dynamo.ItemSize(pn)), writeUnitBytes))
			}
		default:
			if oldIn {
				l.write(where, str(old[idx.Hash]), requestID, units(dynamo.ItemSize(po), writeUnitBytes))
			}
			if newIn {
				l.write(where, str(new[idx.Hash]), requestID, units(dynamo.ItemSize(pn), writeUnitBytes))
			}
		}
	}
}

func (idx indexModel) holds(item map[string]ddbtypes.AttributeValue) bool {
	if item == nil || item[idx.Hash] == nil {
		return false
	}
	return idx.Range == "" || item[idx.Range] != nil
}

// project is the index item of item: the attributes the index holds.
func (idx indexModel) project(m tableModel, item map[string]ddbtypes.AttributeValue) map[string]ddbtypes.AttributeValue {
	if !idx.holds(item) {
		return nil
	}
	if idx.Projection == "ALL" {
		return item
	}
	out := map[string]ddbtypes.AttributeValue{}
	names := append(append([]string{idx.Hash, idx.Range}, m.TableKeyAttrs...), idx.NonKey...)
	for _, n := range names {
		if v, ok := item[n]; ok && n != "" {
			out[n] = v
		}
	}
	return out
}

func str(v ddbtypes.AttributeValue) string {
	switch v := v.(type) {
	case *ddbtypes.AttributeValueMemberS:
		return v.Value
	case *ddbtypes.AttributeValueMemberN:
		return v.Value
	}
	return fmt.Sprint(v)
}

// capacityMeter prices the request path's DynamoDB reads as they are made
// (from what each call returned) and counts the write attempts on each
// item of the requests table, which the stream then prices.
type capacityMeter struct {
	requestsTable string
	logical       map[string]string // physical table name -> logical id
	hash          map[string]string // physical table name -> its partition key attribute
	mu            sync.Mutex
	rcu           float64
	rcuBy         map[string]float64
	rcuByKey      map[string]float64 // by "<table or table/index> = <partition key value>"
	otherWCU      float64            // puts and updates of other tables than the requests table
	logRCU        float64            // reads of the delivery log, kept apart from rcu
	attempts      map[string]int     // requests-table write attempts by id, any function
}

func newCapacityMeter() *capacityMeter {
	return &capacityMeter{rcuBy: map[string]float64{}, rcuByKey: map[string]float64{}, attempts: map[string]int{}}
}

// setTables names the tables once they are provisioned, and learns each
// table's partition key from the template.
func (c *capacityMeter) setTables(s *stack.Stack, t *stack.Template) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requestsTable = s.Resources["RequestsTable"].Ref
	c.logical, c.hash = map[string]string{}, map[string]string{}
	for id, r := range s.Resources {
		c.logical[r.Ref] = id
		if t.Resources[id].Type == "AWS::DynamoDB::Table" {
			m, err := loadTableModel(t, s, id)
			if err != nil {
				return err
			}
			c.hash[r.Ref] = m.Hash
		}
	}
	return nil
}

// hashCondition is the partition key's placeholder in a Query's key condition.
var hashCondition = regexp.MustCompile(`^\s*\(?\s*[#\w.]+\s*=\s*(:\w+)`)

func (c *capacityMeter) install(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("BenchCapacity",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				c.observe(local.FunctionOf(ctx), in.Parameters, out.Result)
				return out, md, err
			}), middleware.After)
	})
}

func half(consistent *bool) float64 {
	if aws.ToBool(consistent) {
		return 1
	}
	return 0.5
}

func (c *capacityMeter) observe(function string, params, result any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id := c.writtenID(params); id != "" {
		c.attempts[id]++
	}
	if function == "" || backgroundFunctions[function] {
		return
	}
	switch in := params.(type) {
	case *dynamodb.PutItemInput:
		if aws.ToString(in.TableName) != c.requestsTable {
			c.otherWCU += units(dynamo.ItemSize(in.Item), writeUnitBytes)
		}
	case *dynamodb.UpdateItemInput: // priced at one unit: its item is not seen
		if aws.ToString(in.TableName) != c.requestsTable {
			c.otherWCU++
		}
	}
	read := func(table string, index *string, key string, rcu float64) {
		where := table
		if id, ok := c.logical[table]; ok {
			where = id
		}
		if where == deliveryLogTable {
			c.logRCU += rcu
			return
		}
		if index != nil {
			where += "/" + *index
		}
		c.rcu += rcu
		c.rcuBy[where] += rcu
		c.rcuByKey[where+" = "+key] += rcu
	}
	tableKey := func(table *string, item map[string]ddbtypes.AttributeValue) string {
		return str(item[c.hash[aws.ToString(table)]])
	}
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		out, _ := result.(*dynamodb.GetItemOutput)
		size := 0
		if out != nil {
			size = dynamo.ItemSize(out.Item)
		}
		read(aws.ToString(in.TableName), nil, tableKey(in.TableName, in.Key), units(size, readUnitBytes)*half(in.ConsistentRead))
	case *dynamodb.QueryInput:
		out, _ := result.(*dynamodb.QueryOutput)
		size := 0
		if out != nil {
			for _, it := range out.Items {
				size += dynamo.ItemSize(it)
			}
		}
		key := "?"
		if m := hashCondition.FindStringSubmatch(aws.ToString(in.KeyConditionExpression)); m != nil {
			key = str(in.ExpressionAttributeValues[m[1]])
		}
		read(aws.ToString(in.TableName), in.IndexName, key, units(size, readUnitBytes)*half(in.ConsistentRead))
	case *dynamodb.ScanInput:
		out, _ := result.(*dynamodb.ScanOutput)
		size := 0
		if out != nil {
			for _, it := range out.Items {
				size += dynamo.ItemSize(it)
			}
		}
		read(aws.ToString(in.TableName), in.IndexName, "(scan)", units(size, readUnitBytes)*half(in.ConsistentRead))
	case *dynamodb.BatchGetItemInput:
		out, _ := result.(*dynamodb.BatchGetItemOutput)
		if out == nil {
			return
		}
		for table, items := range out.Responses {
			consistent := in.RequestItems[table].ConsistentRead
			for _, it := range items {
				read(table, nil, tableKey(&table, it), units(dynamo.ItemSize(it), readUnitBytes)*half(consistent))
			}
		}
	case *dynamodb.TransactGetItemsInput:
		out, _ := result.(*dynamodb.TransactGetItemsOutput)
		if out == nil {
			return
		}
		for i, r := range out.Responses {
			table := ""
			if i < len(in.TransactItems) && in.TransactItems[i].Get != nil {
				table = aws.ToString(in.TransactItems[i].Get.TableName)
			}
			read(table, nil, tableKey(&table, r.Item), 2*units(dynamo.ItemSize(r.Item), readUnitBytes))
		}
	}
}

// writtenID is the id of the requests-table item a write call addresses.
func (c *capacityMeter) writtenID(params any) string {
	var table *string
	var key map[string]ddbtypes.AttributeValue
	switch in := params.(type) {
	case *dynamodb.PutItemInput:
		table, key = in.TableName, in.Item
	case *dynamodb.UpdateItemInput:
		table, key = in.TableName, in.Key
	case *dynamodb.DeleteItemInput:
		table, key = in.TableName, in.Key
	}
	if aws.ToString(table) != c.requestsTable || key == nil {
		return ""
	}
	return str(key["id"])
}

// reads are the read units of a run, in total and by where and key value,
// the delivery log's apart (LogRCU); and OtherWCU, the write units the
// request path made to tables other than the requests table (whose writes
// the stream prices): the delivery log.
type reads struct {
	RCU          float64
	RCUBy, ByKey map[string]float64
	OtherWCU     float64
	LogRCU       float64
}

// deliveryLogTable is the delivery log's logical id, whose units the bench
// prints apart from the request's own.
const deliveryLogTable = "DeliveryLogTable"

// take returns the reads and write attempts since the last take.
func (c *capacityMeter) take() (reads, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, attempts := reads{RCU: c.rcu, RCUBy: c.rcuBy, ByKey: c.rcuByKey, OtherWCU: c.otherWCU, LogRCU: c.logRCU}, c.attempts
	c.rcu, c.rcuBy, c.rcuByKey, c.attempts, c.otherWCU, c.logRCU = 0, map[string]float64{}, map[string]float64{}, map[string]int{}, 0, 0
	return r, attempts
}

// hotReads is hottestAt1000 of the read units: a key value of the requests
// table (a request id) is a request's own.
func (r reads) hotReads(n int) (string, float64) {
	return hottestAt1000(r.ByKey, func(key string) bool { return strings.HasPrefix(key, "RequestsTable = ") }, n)
}

// streamTail reads a table's stream from its start; each read returns the
// records added since the previous one.
type streamTail struct {
	c     *dynamodbstreams.Client
	arn   string
	iters map[string]*string
}

func (s *streamTail) read(ctx context.Context) ([]streamtypes.Record, error) {
	desc, err := s.c.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &s.arn})
	if err != nil {
		return nil, err
	}
	var out []streamtypes.Record
	for _, sh := range desc.StreamDescription.Shards {
		id := aws.ToString(sh.ShardId)
		next, ok := s.iters[id]
		if !ok {
			it, err := s.c.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: &s.arn, ShardId: sh.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
			if err != nil {
				return nil, err
			}
			next = it.ShardIterator
		}
		for next != nil {
			recs, err := s.c.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: next})
			if err != nil {
				return nil, err
			}
			s.iters[id] = recs.NextShardIterator
			if len(recs.Records) == 0 {
				break
			}
			out = append(out, recs.Records...)
			next = recs.NextShardIterator
		}
	}
	return out, nil
}

// priceWrites prices the requests-table writes of one run: each stream
// record of the run's requests, and each write attempt the stream does not
// show (refused by its condition, or changing nothing) at the item's last size.
func priceWrites(l *ledger, m tableModel, records []streamtypes.Record, attempts map[string]int, ids map[string]bool) {
	seen, last := map[string]int{}, map[string]int{}
	for _, rec := range records {
		if rec.Dynamodb == nil {
			continue
		}
		old, new := fromStream(rec.Dynamodb.OldImage), fromStream(rec.Dynamodb.NewImage)
		id := str(fromStreamValue(rec.Dynamodb.Keys["id"]))
		if !ids[id] {
			continue
		}
		seen[id]++
		l.record(m, old, new, id)
		if new != nil {
			last[id] = dynamo.ItemSize(new)
		}
	}
	for id, n := range attempts {
		if ids[id] && n > seen[id] {
			l.write(m.ID, id, id, float64(n-seen[id])*units(last[id], writeUnitBytes))
		}
	}
}

func fromStream(item map[string]streamtypes.AttributeValue) map[string]ddbtypes.AttributeValue {
	if item == nil {
		return nil
	}
	out := make(map[string]ddbtypes.AttributeValue, len(item))
	for k, v := range item {
		out[k] = fromStreamValue(v)
	}
	return out
}

func fromStreamValue(v streamtypes.AttributeValue) ddbtypes.AttributeValue {
	switch v := v.(type) {
	case *streamtypes.AttributeValueMemberS:
		return &ddbtypes.AttributeValueMemberS{Value: v.Value}
	case *streamtypes.AttributeValueMemberN:
		return &ddbtypes.AttributeValueMemberN{Value: v.Value}
	case *streamtypes.AttributeValueMemberB:
		return &ddbtypes.AttributeValueMemberB{Value: v.Value}
	case *streamtypes.AttributeValueMemberBOOL:
		return &ddbtypes.AttributeValueMemberBOOL{Value: v.Value}
	case *streamtypes.AttributeValueMemberNULL:
		return &ddbtypes.AttributeValueMemberNULL{Value: v.Value}
	case *streamtypes.AttributeValueMemberSS:
		return &ddbtypes.AttributeValueMemberSS{Value: v.Value}
	case *streamtypes.AttributeValueMemberNS:
		return &ddbtypes.AttributeValueMemberNS{Value: v.Value}
	case *streamtypes.AttributeValueMemberBS:
		return &ddbtypes.AttributeValueMemberBS{Value: v.Value}
	case *streamtypes.AttributeValueMemberL:
		l := make([]ddbtypes.AttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = fromStreamValue(e)
		}
		return &ddbtypes.AttributeValueMemberL{Value: l}
	case *streamtypes.AttributeValueMemberM:
		return &ddbtypes.AttributeValueMemberM{Value: fromStream(v.Value)}
	}
	return nil
}

// describeCapacity prints, as notes, where one run's units went.
func describeCapacity(rep *report, l *ledger, r reads, n int) {
	var parts []string
	for _, k := range sortedKeys(l.WCUBy) {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, l.WCUBy[k]/float64(n)))
	}
	rep.note("  write units per request: %s", strings.Join(parts, ", "))
	parts = parts[:0]
	for _, k := range sortedKeys(r.RCUBy) {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, r.RCUBy[k]/float64(n)))
	}
	rep.note("  read units per request: %s", strings.Join(parts, ", "))
	rep.note("  delivery log per request (in the cost, not in ddb_wcu/ddb_rcu_per_approved_m3): %.2f write units, %.2f read units", r.OtherWCU/float64(n), r.LogRCU/float64(n))
	name, top := l.hotWrites("RequestsTable", n)
	rep.note("  busiest shared key value written at 1,000 requests a second: %s, %.0f write units a second (sharded indexes: their %d shards evenly, times %.2f for the busiest shard's second)",
		name, top, dynamo.ShardCount, shardBurst)
	name, top = r.hotReads(n)
	rep.note("  busiest shared key value read at 1,000 requests a second: %s, %.0f read units a second", name, top)
	rep.note("  busiest key value of one request (its own item): %.0f write units over its whole life", l.busiestOwn())
	rep.note("  largest item: %d bytes", l.MaxItem)
}
