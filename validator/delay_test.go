package validator

import (
	"testing"
	"time"
)

// The wait doubles from BaseDelay, stays under MaxDelay, and is jittered
// within its upper half.
func TestReplyDelay(t *testing.T) {
	r := &Replier{BaseDelay: time.Second, MaxDelay: 5 * time.Second}
	for n, full := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 5 * time.Second, 40: 5 * time.Second} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := r.delay(n)
			if d < full/2 || d > full {
				t.Fatalf("delay(%d) = %s, want within [%s, %s]", n, d, full/2, full)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Fatalf("delay(%d) is not jittered", n)
		}
	}
	if d := (&Replier{}).delay(1); d < DefaultBaseDelay/2 || d > DefaultBaseDelay {
		t.Fatalf("default first delay %s", d)
	}
}
