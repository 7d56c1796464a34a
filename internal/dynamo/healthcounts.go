package dynamo

import (
	"maps"
	"sync"
	"time"
)

// countsEvery is how often a function instance writes one webhook's counts
// of one hour at most: a busy webhook's calls cost one write a minute per
// instance instead of one each (docs/internals/storage.md, "Delivery log").
const countsEvery = time.Minute

// countsKey names one counts item's worth of a webhook: its hour (UTC).
type countsKey struct {
	webhook string
	hour    time.Time
}

// hourCounts is one update of an hour's counts: counters to add and, for a
// failure, the last failure to set.
type hourCounts struct {
	add         map[string]int64
	failureAt   string // gate.FormatTime: fixed width, so it sorts by time
	failureText string
}

// merge adds o to c; the later failure is kept.
func (c *hourCounts) merge(o hourCounts) {
	if c.add == nil {
		c.add = map[string]int64{}
	}
	for f, n := range o.add {
		c.add[f] += n
	}
	if o.failureAt > c.failureAt {
		c.failureAt, c.failureText = o.failureAt, o.failureText
	}
}

// countsBuffer holds one function instance's counts until they are written:
// a key's first counts are written at once, later ones when countsEvery has
// passed since that key's last write, or when their hour has ended. So a
// quiet webhook's health is as exact and as timely as its log, and a busy
// one's counts cost one write a minute per instance. The counts added since
// an instance's last write are lost if Lambda reclaims the instance before
// its next invocation writes them: health is an approximation, the log's
// entries are exact.
type countsBuffer struct {
	mu      sync.Mutex
	pending map[countsKey]hourCounts
	written map[countsKey]time.Time // each key's last write (or try)
}

func newCountsBuffer() *countsBuffer {
	return &countsBuffer{pending: map[countsKey]hourCounts{}, written: map[countsKey]time.Time{}}
}

// add keeps c for k.
func (b *countsBuffer) add(k countsKey, c hourCounts) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.pending[k]
	p.merge(c)
	b.pending[k] = p
}

// due takes out, at now, the counts to write: those of a key never written
// or last written countsEvery ago, and those of an hour that has ended since
// its last write. Each key taken counts as written at now, so counts whose
// write failed (added back) are tried again a minute later, not at every call.
func (b *countsBuffer) due(now time.Time) map[countsKey]hourCounts {
	b.mu.Lock()
	defer b.mu.Unlock()
	current := now.UTC().Truncate(time.Hour)
	out := map[countsKey]hourCounts{}
	for k, c := range b.pending {
		last, seen := b.written[k]
		ended := k.hour.Before(current) && last.Before(k.hour.Add(time.Hour))
		if !seen || now.Sub(last) >= countsEvery || ended {
			out[k] = c
			delete(b.pending, k)
			b.written[k] = now
		}
	}
	// A key of an ended hour with nothing pending is forgotten once its last
	// write is a minute old: until then, the counts of a write that failed,
	// added back meanwhile, still wait their minute.
	maps.DeleteFunc(b.written, func(k countsKey, last time.Time) bool {
		_, waiting := b.pending[k]
		return !waiting && k.hour.Before(current) && now.Sub(last) >= countsEvery
	})
	return out
}
