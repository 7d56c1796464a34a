package stack

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
)

// FilterPattern is one Lambda event filter pattern (the EventBridge pattern
// language). The subset supported is what template.yaml uses: nested objects
// and lists of allowed scalar values. Anything else is refused when the
// pattern is parsed, so a new operator cannot be silently ignored locally.
type FilterPattern struct{ root map[string]any }

// ParseFilterPattern parses a pattern string.
func ParseFilterPattern(raw string) (FilterPattern, error) {
	var root map[string]any
	if err := json.Unmarshal([]byte(raw), &root); err != nil {
		return FilterPattern{}, fmt.Errorf("filter pattern: %w", err)
	}
	if err := checkPattern(root); err != nil {
		return FilterPattern{}, err
	}
	return FilterPattern{root: root}, nil
}

func checkPattern(p map[string]any) error {
	for k, v := range p {
		switch x := v.(type) {
		case map[string]any:
			if err := checkPattern(x); err != nil {
				return err
			}
		case []any:
			for _, e := range x {
				if !scalar(e) && anythingBut(e) == nil {
					return fmt.Errorf("filter pattern: %s: only scalar values and {\"anything-but\": [scalars]} are supported locally, got %v", k, e)
				}
			}
		default:
			return fmt.Errorf("filter pattern: %s: a value must be an object or a list", k)
		}
	}
	return nil
}

// Matches reports whether an event (as JSON-decoded maps) passes the pattern.
func (f FilterPattern) Matches(event map[string]any) bool { return matchPattern(f.root, event) }

func matchPattern(p map[string]any, ev map[string]any) bool {
	for k, want := range p {
		got, present := ev[k]
		switch w := want.(type) {
		case map[string]any:
			sub, ok := got.(map[string]any)
			if !present || !ok || !matchPattern(w, sub) {
				return false
			}
		case []any:
			if !present || !anyEqual(w, got) {
				return false
			}
		}
	}
	return true
}

func anyEqual(allowed []any, got any) bool {
	for _, a := range allowed {
		if but := anythingBut(a); but != nil {
			if scalar(got) && !anyEqual(but, got) {
				return true
			}
			continue
		}
		if a == got {
			return true
		}
	}
	return false
}

// StreamFilters returns the parsed FilterCriteria patterns of a function's
// DynamoDB event; a record passes when any pattern matches (Lambda's rule).
func (t *Template) StreamFilters(function, event string) ([]FilterPattern, error) {
	filters := Dig(t.Resources[function].Properties, "Events", event, "Properties", "FilterCriteria", "Filters")
	var out []FilterPattern
	for _, f := range list(filters) {
		raw, _ := Dig(f, "Pattern").(string)
		p, err := ParseFilterPattern(raw)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", function, event, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// StreamParallelization is the ParallelizationFactor of a function's
// stream event source: how many batches of one shard it handles at once (1
// when unset).
func (t *Template) StreamParallelization(function, event string) int {
	v := Dig(t.Resources[function].Properties, "Events", event, "Properties", "ParallelizationFactor")
	n, err := strconv.Atoi(scalarString(v))
	if err != nil {
		return 1
	}
	return max(n, 1)
}

func scalar(v any) bool {
	switch v.(type) {
	case string, float64, bool, nil:
		return true
	}
	return false
}

// anythingBut returns the values of an {"anything-but": [...]} matcher (which
// matches a present value not among them), or nil for anything else.
func anythingBut(v any) []any {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return nil
	}
	but, ok := m["anything-but"].([]any)
	if !ok || len(but) == 0 {
		return nil
	}
	for _, b := range but {
		if !scalar(b) {
			return nil
		}
	}
	return but
}

// KeepMatching returns the records that pass any of the filters (all of them
// when there are none), as Lambda's event source mapping does before it
// invokes the function. Records are matched in their JSON form.
func KeepMatching(filters []FilterPattern, records []events.DynamoDBEventRecord) []events.DynamoDBEventRecord {
	if len(filters) == 0 {
		return records
	}
	kept := make([]events.DynamoDBEventRecord, 0, len(records))
	for _, r := range records {
		raw, _ := json.Marshal(r)
		var ev map[string]any
		_ = json.Unmarshal(raw, &ev)
		for _, f := range filters {
			if f.Matches(ev) {
				kept = append(kept, r)
				break
			}
		}
	}
	return kept
}
