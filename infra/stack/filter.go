package stack

import (
	"encoding/json"
	"fmt"
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
				switch e.(type) {
				case string, float64, bool, nil:
				default:
					return fmt.Errorf("filter pattern: %s: only lists of scalar values are supported locally, got %v", k, e)
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
		if a == got {
			return true
		}
	}
	return false
}

// StreamFilters returns the parsed FilterCriteria patterns of a function's
// DynamoDB event; a record passes when any pattern matches (Lambda's rule).
func (t *Template) StreamFilters(function, event string) ([]FilterPattern, error) {
	filters := dig(t.Resources[function].Properties, "Events", event, "Properties", "FilterCriteria", "Filters")
	var out []FilterPattern
	for _, f := range list(filters) {
		raw, _ := dig(f, "Pattern").(string)
		p, err := ParseFilterPattern(raw)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", function, event, err)
		}
		out = append(out, p)
	}
	return out, nil
}
