package gate

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"
)

func TestNewRequestID(t *testing.T) {
	re := regexp.MustCompile(`^pri_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := NewRequestID()
		if !re.MatchString(id) || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

func TestValidateSubmission(t *testing.T) {
	ok := SubmitItem{Identity: Identity{Email: "a@example.com"}, PolicyKey: "default_access_policy"}
	many := make([]SubmitItem, MaxBulk+1)
	for i := range many {
		many[i] = ok
	}
	cases := []struct {
		name  string
		items []SubmitItem
		loc   string // "" = valid
	}{
		{"one email", []SubmitItem{ok}, ""},
		{"phone only", []SubmitItem{{Identity: Identity{PhoneNumber: "+14155552671"}, PolicyKey: "x"}}, ""},
		{"fifty", many[:MaxBulk], ""},
		{"empty", nil, "[body]"},
		{"fifty one", many, "[body]"},
		{"no identity", []SubmitItem{{PolicyKey: "default_access_policy"}}, "[body 0 identity]"},
		{"bad email", []SubmitItem{{Identity: Identity{Email: "nope"}, PolicyKey: "p"}}, "[body 0 identity email]"},
		{"email with name", []SubmitItem{{Identity: Identity{Email: "A <a@example.com>"}, PolicyKey: "p"}}, "[body 0 identity email]"},
		{"email no dot", []SubmitItem{{Identity: Identity{Email: "a@localhost"}, PolicyKey: "p"}}, "[body 0 identity email]"},
		{"phone no plus", []SubmitItem{{Identity: Identity{PhoneNumber: "14155552671"}, PolicyKey: "p"}}, "[body 0 identity phone_number]"},
		{"phone too long", []SubmitItem{{Identity: Identity{PhoneNumber: "+1234567890123456"}, PolicyKey: "p"}}, "[body 0 identity phone_number]"},
		{"phone leading zero", []SubmitItem{{Identity: Identity{PhoneNumber: "+0123456"}, PolicyKey: "p"}}, "[body 0 identity phone_number]"},
		{"no policy", []SubmitItem{ok, {Identity: Identity{Email: "a@example.com"}}}, "[body 1 policy_key]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateSubmission(c.items)
			if c.loc == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want a ValidationError", err)
			}
			if got := fmt.Sprint(ve.Fields[0].Loc); got != c.loc {
				t.Errorf("loc %s, want %s", got, c.loc)
			}
		})
	}
}

// TestListRejectsBadParams checks the parameters before any store is used.
func TestListRejectsBadParams(t *testing.T) {
	u := &Requests{}
	cases := map[string]ListParams{
		"size 0":         {Size: 0},
		"size 101":       {Size: 101},
		"unknown status": {Status: "done", Size: 10},
		"cursor not b64": {Cursor: "%%%", Size: 10},
		"cursor garbage": {Cursor: "Z2FyYmFnZQ", Size: 10},
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := u.List(context.Background(), p)
			var ve *ValidationError
			var be *BadRequestError
			if !errors.As(err, &ve) && !errors.As(err, &be) {
				t.Fatalf("got %v, want a 422 or 400 error", err)
			}
		})
	}
}
