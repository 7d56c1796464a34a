package dynamo

import (
	"maps"
	"testing"
	"time"
)

func calls(n int64) hourCounts { return hourCounts{add: map[string]int64{"n": n}} }

// takeCalls is what due hands out at now, as the calls counted per key.
func takeCalls(b *countsBuffer, now time.Time) map[countsKey]int64 {
	out := map[countsKey]int64{}
	for k, c := range b.due(now) {
		out[k] = c.add["n"]
	}
	return out
}

// A key's first counts are written at once; those that follow within a
// minute wait, and go out together at the first call a minute after the
// last write; an ended hour's counts go out at the first call after it.
func TestCountsBufferWritesAKeyAtMostOnceAMinute(t *testing.T) {
	b := newCountsBuffer()
	h10 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	fraud, crm := countsKey{"fraud", h10}, countsKey{"crm", h10}
	t0 := h10.Add(30 * time.Minute)

	steps := []struct {
		at   time.Duration // after t0
		key  countsKey
		want map[countsKey]int64 // written at that call
	}{
		{0, fraud, map[countsKey]int64{fraud: 1}},
		{time.Second, fraud, map[countsKey]int64{}},
		{2 * time.Second, crm, map[countsKey]int64{crm: 1}}, // another webhook has its own minute
		{30 * time.Second, fraud, map[countsKey]int64{}},
		{59 * time.Second, fraud, map[countsKey]int64{}},
		{time.Minute, fraud, map[countsKey]int64{fraud: 4}},
		{time.Minute + time.Second, fraud, map[countsKey]int64{}},
		{time.Minute + 2*time.Second, crm, map[countsKey]int64{crm: 1}},
	}
	for _, s := range steps {
		b.add(s.key, calls(1))
		if got := takeCalls(b, t0.Add(s.at)); !maps.Equal(got, s.want) {
			t.Fatalf("at t0+%v: written %v, want %v", s.at, got, s.want)
		}
	}

	// 10:59:50 one more call of the hour waits; at 11:00:10 a call of the
	// new hour is written (its key's first) and the ended hour's go out
	// with it, although their last write is 10 seconds old.
	b.add(fraud, calls(1))
	if got := takeCalls(b, h10.Add(59*time.Minute+50*time.Second)); len(got) != 1 || got[fraud] != 2 {
		t.Fatalf("at 10:59:50: written %v", got) // the one of t0+1m1s and this one: a minute since t0+1m
	}
	b.add(fraud, calls(1))
	if got := takeCalls(b, h10.Add(59*time.Minute+55*time.Second)); len(got) != 0 {
		t.Fatalf("at 10:59:55: written %v", got)
	}
	fraud11 := countsKey{"fraud", h10.Add(time.Hour)}
	b.add(fraud11, calls(1))
	if got := takeCalls(b, h10.Add(time.Hour+10*time.Second)); !maps.Equal(got, map[countsKey]int64{fraud: 1, fraud11: 1}) {
		t.Fatalf("at 11:00:10: written %v", got)
	}
}

// Counts whose write failed are added back: nothing is counted twice or
// lost, and the next try comes a minute later, not at the next call.
func TestCountsBufferKeepsCountsWhoseWriteFailed(t *testing.T) {
	b := newCountsBuffer()
	h10 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	fraud, t0 := countsKey{"fraud", h10}, h10.Add(30*time.Minute)
	b.add(fraud, hourCounts{add: map[string]int64{"n": 1, "f": 1}, failureAt: "2026-12-07T10:30:00.000000Z", failureText: "HTTP 503"})
	failed := b.due(t0)
	for k, c := range failed {
		b.add(k, c)
	}
	b.add(fraud, hourCounts{add: map[string]int64{"n": 1, "l40": 1}})
	if got := b.due(t0.Add(30 * time.Second)); len(got) != 0 {
		t.Fatalf("tried again within the minute: %v", got)
	}
	b.add(fraud, hourCounts{add: map[string]int64{"n": 1, "f": 1}, failureAt: "2026-12-07T10:29:59.000000Z", failureText: "HTTP 500"})
	got := b.due(t0.Add(time.Minute))[fraud]
	if !maps.Equal(got.add, map[string]int64{"n": 3, "f": 2, "l40": 1}) || got.failureAt != "2026-12-07T10:30:00.000000Z" || got.failureText != "HTTP 503" {
		t.Fatalf("written after the failure: %+v", got)
	}
}

// An ended hour's counts whose write failed wait a minute too: the key
// taken out is remembered until its write is a minute old, so a throttled
// table is not asked again at every call.
func TestCountsBufferRetriesAnEndedHourAMinuteLater(t *testing.T) {
	b := newCountsBuffer()
	h10 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	fraud := countsKey{"fraud", h10}
	b.add(fraud, calls(1))
	takeCalls(b, h10.Add(59*time.Minute+50*time.Second))
	b.add(fraud, calls(1))
	after := h10.Add(time.Hour + 10*time.Second)
	failed := b.due(after)
	if len(failed) != 1 {
		t.Fatalf("at 11:00:10 the ended hour's counts are not due: %v", failed)
	}
	for k, c := range failed {
		b.add(k, c)
	}
	if got := takeCalls(b, after.Add(time.Second)); len(got) != 0 {
		t.Fatalf("tried again a second after the failed try: %v", got)
	}
	if got := takeCalls(b, after.Add(time.Minute)); got[fraud] != 1 {
		t.Fatalf("a minute after the failed try: written %v", got)
	}
	if got := takeCalls(b, after.Add(2*time.Minute)); len(got) != 0 {
		t.Fatalf("written again with nothing pending: %v", got)
	}
	if _, kept := b.written[fraud]; kept {
		t.Fatal("an ended hour with nothing pending is still remembered")
	}
}
