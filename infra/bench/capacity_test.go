package main

import (
	"math"
	"strings"
	"testing"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The capacity ledger prices writes by DynamoDB's rules; each case is
// computed by hand from the item below, whose size is
//
//	"id" (2) + "pri_1" (5) + "s" (1) + "07" (2) + "k" (1) + "a" (1) + "pad" (3) + pad
//
// so 15 bytes plus the pad's length.
func TestLedgerPricesWritesByHand(t *testing.T) {
	m := tableModel{ID: "T", Hash: "id", TableKeyAttrs: []string{"id"}, Indexes: []indexModel{
		{Name: "byS", Hash: "s", Range: "k", Projection: "KEYS_ONLY"},
		{Name: "inc", Hash: "s", Range: "k", Projection: "INCLUDE", NonKey: []string{"x"}},
	}}
	item := func(shard, sort string, pad int, extra ...string) map[string]ddbtypes.AttributeValue {
		it := map[string]ddbtypes.AttributeValue{"id": s("pri_1"), "pad": s(strings.Repeat("p", pad))}
		if shard != "" {
			it["s"], it["k"] = s(shard), s(sort)
		}
		for i := 0; i+1 < len(extra); i += 2 {
			it[extra[i]] = s(extra[i+1])
		}
		return it
	}
	for _, tc := range []struct {
		name     string
		old, new map[string]ddbtypes.AttributeValue
		wcu      float64 // table + indexes
		byWhere  map[string]float64
	}{
		// 15 + 1009 = 1,024 bytes: one unit; each index gets a put of its
		// small index item.
		{"put at exactly 1 KB", nil, item("07", "a", 1009), 3, map[string]float64{"T": 1, "T/byS": 1, "T/inc": 1}},
		// 1,025 bytes: two units for the table, the index items stay small.
		{"put one byte over 1 KB", nil, item("07", "a", 1010), 4, map[string]float64{"T": 2, "T/byS": 1, "T/inc": 1}},
		// The larger of before and after prices an update: 2,100 → 100 bytes.
		{"shrinking update, no key change", item("07", "a", 2085), item("07", "a", 85), 3, map[string]float64{"T": 3}},
		// A changed index key is a delete and a put in each index.
		{"re-keyed", item("07", "a", 10), item("08", "a", 10), 5, map[string]float64{"T": 1, "T/byS": 2, "T/inc": 2}},
		// Leaving an index (its key removed) deletes its item.
		{"leaves the indexes", item("07", "a", 10), item("", "", 10), 3, map[string]float64{"T": 1, "T/byS": 1, "T/inc": 1}},
		// Changing a projected attribute rewrites only the index that projects it.
		{"projected attribute", item("07", "a", 10, "x", "1"), item("07", "a", 10, "x", "2"), 2, map[string]float64{"T": 1, "T/inc": 1}},
		// Changing an attribute no index holds writes the table only.
		{"unprojected attribute", item("07", "a", 10, "y", "1"), item("07", "a", 10, "y", "2"), 1, map[string]float64{"T": 1}},
		// A delete is priced at the item it removes.
		{"delete", item("07", "a", 1500), nil, 4, map[string]float64{"T": 2, "T/byS": 1, "T/inc": 1}},
	} {
		l := newLedger()
		l.record(m, tc.old, tc.new, "pri_1")
		if l.WCU != tc.wcu {
			t.Errorf("%s: %v write units, want %v (%v)", tc.name, l.WCU, tc.wcu, l.WCUBy)
		}
		for where, want := range tc.byWhere {
			if l.WCUBy[where] != want {
				t.Errorf("%s: %s took %v, want %v", tc.name, where, l.WCUBy[where], want)
			}
		}
		if len(l.WCUBy) != len(tc.byWhere) {
			t.Errorf("%s: written %v, want only %v", tc.name, l.WCUBy, tc.byWhere)
		}
	}
}

// The hot key at 1,000 requests a second: a request's own key never; an
// unsharded shared key takes its units per request times 1,000; a sharded
// index's values, summed over the shards of one prefix, are spread over 16
// shards, times the burst of the busiest shard (62.5 requests a shard a
// second, plus 3 standard deviations: sqrt(62.5 × 15/16) = 7.655, so
// (62.5 + 22.964) / 62.5 = 1.36743). Reads round per started 4 KB and
// halve when eventually consistent.
func TestHotKeysAndReadUnits(t *testing.T) {
	if math.Abs(shardBurst-1.36743) > 1e-5 {
		t.Errorf("shard burst %v, want 1.36743", shardBurst)
	}
	l := newLedger()
	l.write("T", "pri_1", "pri_1", 5) // a request's own item, over its life
	l.write("T/st", "approved#07", "pri_1", 1)
	l.write("T/st", "approved#08", "pri_2", 1)
	l.write("T/st", "awaiting#08", "pri_2", 1)
	if own := l.busiestOwn(); own != 5 {
		t.Errorf("busiest own key %v, want 5", own)
	}
	// 4 requests: approved#<shard> took 2 units, so 500 a second spread
	// over 16 shards: 31.25 × 1.36743 = 42.73.
	if name, rate := l.hotWrites("T", 4); name != "T/st = approved#<shard>" || math.Abs(rate-42.732) > 1e-3 {
		t.Errorf("hot write key %q at %v, want T/st = approved#<shard> at 42.732", name, rate)
	}
	r := reads{ByKey: map[string]float64{"RequestsTable = pri_1": 40, "ConfigTable = WEBHOOKS": 3, "RequestsTable/due = 03": 40}}
	// ConfigTable: 3 / 4 × 1,000 = 750; the due shards: 40 / 4 × 1,000 / 16 × 1.36743 = 854.6.
	if name, rate := r.hotReads(4); name != "RequestsTable/due = <shard>" || math.Abs(rate-854.64) > 0.01 {
		t.Errorf("hot read key %q at %v, want RequestsTable/due = <shard> at 854.64", name, rate)
	}
	delete(r.ByKey, "RequestsTable/due = 03")
	if name, rate := r.hotReads(4); name != "ConfigTable = WEBHOOKS" || rate != 750 {
		t.Errorf("hot read key %q at %v, want ConfigTable = WEBHOOKS at 750", name, rate)
	}
	consistent, eventual := true, false
	for _, tc := range []struct {
		bytes      int
		consistent *bool
		want       float64
	}{{0, &consistent, 1}, {4096, &consistent, 1}, {4097, &consistent, 2}, {4097, &eventual, 1}, {100, nil, 0.5}} {
		if got := units(tc.bytes, readUnitBytes) * half(tc.consistent); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("a read of %d bytes (consistent %v): %v units, want %v", tc.bytes, tc.consistent != nil && *tc.consistent, got, tc.want)
		}
	}
}

func s(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
