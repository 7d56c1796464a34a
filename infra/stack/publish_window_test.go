package stack

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pregate/pregate/internal/gate"
)

// An approval whose publisher crashed between its send and its mark is sent
// again by the reconciler once the claim ends. SQS drops that repeat only
// within its 5-minute deduplication window, so the claim, the schedule's
// period and the longest run must fit in it: else the approved queue gets the
// approval twice.
func TestReconcilerRepeatsAPublicationWithinTheDeduplicationWindow(t *testing.T) {
	tmpl, err := LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fn, ok := tmpl.Resources["ReconcilerFunction"]
	if !ok {
		t.Fatal("template has no ReconcilerFunction")
	}
	rate := scalarString(Dig(fn.Properties, "Events", "Schedule", "Properties", "Schedule"))
	period, err := parseRate(rate)
	if err != nil {
		t.Fatalf("ReconcilerFunction schedule %q: %v", rate, err)
	}
	secs, err := strconv.Atoi(scalarString(fn.Properties["Timeout"]))
	if err != nil {
		t.Fatalf("ReconcilerFunction timeout: %v", err)
	}
	run := time.Duration(secs) * time.Second
	if worst := gate.PublishLease + period + run; worst >= gate.ApprovedDedupWindow {
		t.Errorf("a repeated publication can come %s after the first (claim %s + schedule %s + run %s), past SQS's %s deduplication window",
			worst, gate.PublishLease, period, run, gate.ApprovedDedupWindow)
	}
	// Runs that overlap would each take the oldest due requests.
	if run >= period {
		t.Errorf("a reconciler run (timeout %s) can outlast the schedule's period %s", run, period)
	}
}

// parseRate reads an EventBridge rate expression: rate(N minute[s]|second[s]|hour[s]).
func parseRate(s string) (time.Duration, error) {
	inner, ok := strings.CutPrefix(s, "rate(")
	if inner, ok = strings.CutSuffix(inner, ")"); !ok {
		return 0, strconv.ErrSyntax
	}
	n, unit, _ := strings.Cut(inner, " ")
	v, err := strconv.Atoi(n)
	if err != nil {
		return 0, err
	}
	units := map[string]time.Duration{"minute": time.Minute, "minutes": time.Minute, "hour": time.Hour, "hours": time.Hour}
	u, ok := units[unit]
	if !ok {
		return 0, strconv.ErrSyntax
	}
	return time.Duration(v) * u, nil
}
