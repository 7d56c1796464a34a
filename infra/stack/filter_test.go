package stack

import (
	"encoding/json"
	"os"
	"testing"
)

func record(t *testing.T, raw string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The stream function must see every record where a request may have entered
// awaiting_pre_approval or approved, or reached a decision, and nothing else.
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
		{"modify to approved", `{"eventName":"MODIFY","dynamodb":{"OldImage":{"status":{"S":"pending"}},"NewImage":{"status":{"S":"approved"}}}}`, true},
		{"modify while awaiting (a reply)", `{"eventName":"MODIFY","dynamodb":{"OldImage":{"status":{"S":"awaiting_pre_approval"}},"NewImage":{"status":{"S":"awaiting_pre_approval"}}}}`, true},
		{"insert pending", `{"eventName":"INSERT","dynamodb":{"NewImage":{"status":{"S":"pending"}}}}`, false},
		{"modify to denied", `{"eventName":"MODIFY","dynamodb":{"NewImage":{"status":{"S":"denied"}}}}`, true},
		{"modify to not eligible", `{"eventName":"MODIFY","dynamodb":{"NewImage":{"status":{"S":"pre_approval_not_eligible"}}}}`, true},
		{"modify to pending (failure, deadline)", `{"eventName":"MODIFY","dynamodb":{"OldImage":{"status":{"S":"awaiting_pre_approval"}},"NewImage":{"status":{"S":"pending"}}}}`, true},
		{"insert in_processing", `{"eventName":"INSERT","dynamodb":{"NewImage":{"status":{"S":"in_processing"}}}}`, false},
		{"modify to complete (downstream)", `{"eventName":"MODIFY","dynamodb":{"NewImage":{"status":{"S":"complete"}}}}`, false},
		{"remove", `{"eventName":"REMOVE","dynamodb":{"OldImage":{"status":{"S":"approved"}}}}`, false},
		{"identity unverified", `{"eventName":"INSERT","dynamodb":{"NewImage":{"status":{"S":"identity_unverified"}}}}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := record(t, c.record)
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
	for _, raw := range []string{`{"a":[{"prefix":"x"}]}`, `{"a":"x"}`, `not json`} {
		if _, err := ParseFilterPattern(raw); err == nil {
			t.Errorf("%s: want an error", raw)
		}
	}
}
