package stack

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/pregate/pregate/internal/dynamo"
)

func record(t *testing.T, raw string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The stream function must see every record where a request's status moved
// into awaiting_pre_approval or approved, or to a decision, and nothing else.
// The records name the status "status"; it is stored under the dynamo
// adapter's name.
func TestTemplateStreamFilterAgainstSampleRecords(t *testing.T) {
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := ParseTemplate(raw)
	if err != nil {
		t.Fatal(err)
	}
	filters, err := tmpl.StreamFilters("StreamFunction", "RequestsStream")
	if err != nil || len(filters) == 0 {
		t.Fatalf("filters: %v (%d)", err, len(filters))
	}
	cases := []struct {
		name   string
		record string
		pass   bool
	}{
		{"insert awaiting", `{"eventName":"INSERT","dynamodb":{"NewImage":{"status":{"S":"awaiting_pre_approval"}}}}`, true},
		{"insert approved (consent, no review)", `{"eventName":"INSERT","dynamodb":{"NewImage":{"status":{"S":"approved"}}}}`, true},
		{"verified into awaiting", `{"eventName":"MODIFY","dynamodb":{"OldImage":{"status":{"S":"identity_unverified"}},"NewImage":{"status":{"S":"awaiting_pre_approval"}}}}`, true},
		{"modify to approved", `{"eventName":"MODIFY","dynamodb":{"OldImage":{"status":{"S":"pending"}},"NewImage":{"status":{"S":"approved"}}}}`, true},
		{"auto-approved", `{"eventName":"MODIFY","dynamodb":{"OldImage":{"status":{"S":"awaiting_pre_approval"}},"NewImage":{"status":{"S":"approved"}}}}`, true},
		{"to pending after a failure or the deadline", `{"eventName":"MODIFY","dynamodb":{"OldImage":{"status":{"S":"awaiting_pre_approval"}},"NewImage":{"status":{"S":"pending"}}}}`, true},
		{"flagged not eligible", `{"eventName":"MODIFY","dynamodb":{"OldImage":{"status":{"S":"awaiting_pre_approval"}},"NewImage":{"status":{"S":"pre_approval_not_eligible"}}}}`, true},
		{"flagged from pending", `{"eventName":"MODIFY","dynamodb":{"OldImage":{"status":{"S":"pending"}},"NewImage":{"status":{"S":"pre_approval_not_eligible"}}}}`, true},
		{"denied after review", `{"eventName":"MODIFY","dynamodb":{"OldImage":{"status":{"S":"pre_approval_not_eligible"}},"NewImage":{"status":{"S":"denied"}}}}`, true},
		{"a reply or delivery while awaiting", `{"eventName":"MODIFY","dynamodb":{"OldImage":{"status":{"S":"awaiting_pre_approval"}},"NewImage":{"status":{"S":"awaiting_pre_approval"}}}}`, false},
		{"a write on an approved request", `{"eventName":"MODIFY","dynamodb":{"OldImage":{"status":{"S":"approved"}},"NewImage":{"status":{"S":"approved"}}}}`, false},
		{"a wrong code counted", `{"eventName":"MODIFY","dynamodb":{"OldImage":{"status":{"S":"identity_unverified"}},"NewImage":{"status":{"S":"identity_unverified"}}}}`, false},
		{"insert pending (the admins are told)", `{"eventName":"INSERT","dynamodb":{"NewImage":{"status":{"S":"pending"}}}}`, true},
		{"verified into pending, no webhooks (the admins are told)", `{"eventName":"MODIFY","dynamodb":{"OldImage":{"status":{"S":"identity_unverified"}},"NewImage":{"status":{"S":"pending"}}}}`, true},
		{"downstream: approved to in_processing", `{"eventName":"MODIFY","dynamodb":{"OldImage":{"status":{"S":"approved"}},"NewImage":{"status":{"S":"in_processing"}}}}`, false},
		{"remove", `{"eventName":"REMOVE","dynamodb":{"OldImage":{"status":{"S":"approved"}}}}`, false},
		{"identity unverified", `{"eventName":"INSERT","dynamodb":{"NewImage":{"status":{"S":"identity_unverified"}}}}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := record(t, strings.ReplaceAll(c.record, `"status"`, strconv.Quote(dynamo.AttrStatus)))
			pass := false
			for _, f := range filters {
				pass = pass || f.Matches(ev)
			}
			if pass != c.pass {
				t.Errorf("passes=%v, want %v", pass, c.pass)
			}
		})
	}
}

func TestParseFilterPatternRefusesUnsupportedOperators(t *testing.T) {
	for _, raw := range []string{`{"a":[{"prefix":"x"}]}`, `{"a":"x"}`, `not json`, `{"a":[{"anything-but":[]}]}`,
		`{"a":[{"anything-but":[{"prefix":"x"}]}]}`, `{"a":[{"anything-but":["x"],"prefix":"y"}]}`} {
		if _, err := ParseFilterPattern(raw); err == nil {
			t.Errorf("%s: want an error", raw)
		}
	}
}

// anything-but matches a present value outside its list, as Lambda's does.
func TestAnythingBut(t *testing.T) {
	p, err := ParseFilterPattern(`{"s":[{"anything-but":["a","b"]}]}`)
	if err != nil {
		t.Fatal(err)
	}
	for ev, want := range map[string]bool{`{"s":"c"}`: true, `{"s":"a"}`: false, `{"s":"b"}`: false, `{}`: false, `{"s":{"x":1}}`: false} {
		if got := p.Matches(record(t, ev)); got != want {
			t.Errorf("%s: matches=%v, want %v", ev, got, want)
		}
	}
}

// The local stream poller handles as many batches at once as the template's
// ParallelizationFactor says, and one when it is unset.
func TestTemplateStreamParallelization(t *testing.T) {
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := ParseTemplate(raw)
	if err != nil {
		t.Fatal(err)
	}
	if n := tmpl.StreamParallelization("StreamFunction", "RequestsStream"); n != 10 {
		t.Errorf("StreamFunction: %d batches at once, want the template's 10", n)
	}
	if n := tmpl.StreamParallelization("StreamFunction", "NoSuchEvent"); n != 1 {
		t.Errorf("unset: %d, want 1", n)
	}
}
