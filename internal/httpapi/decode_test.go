package httpapi

import (
	"errors"
	"reflect"
	"testing"

	"github.com/pregate/pregate/internal/gate"
)

type sample struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	Items []struct {
		K string `json:"k"`
	} `json:"items"`
	Tags map[string]string `json:"tags"`
	Note *string           `json:"note" nullable:"true"`
	Opt  *string           `json:"opt"`
}

func TestDecodeJSON(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		status  int // 0 = ok
		wantLoc []any
	}{
		{"valid", `{"name":"a","count":1,"items":[{"k":"x"}]}`, 0, nil},
		{"empty body", ``, 422, []any{"body"}},
		{"malformed", `{"name":`, 400, nil},
		{"not json", `hello`, 400, nil},
		{"trailing data", `{"name":"a"} {}`, 400, nil},
		{"wrong type", `{"name":5}`, 422, []any{"body", "name"}},
		{"wrong nested type", `{"items":[{"k":1}]}`, 422, []any{"body", "items", "k"}},
		{"unknown field", `{"nope":1}`, 422, []any{"body", "nope"}},
		{"header value not string", `{"tags":{"a":1}}`, 422, []any{"body", "tags"}},
		{"array for object", `[1]`, 422, []any{"body"}},
		{"null body", `null`, 422, []any{"body"}},
		{"null field", `{"name":null}`, 422, []any{"body", "name"}},
		{"null pointer field not documented nullable", `{"opt":null}`, 422, []any{"body", "opt"}},
		{"null documented nullable", `{"note":null,"opt":"x"}`, 0, nil},
		{"null list item", `{"items":[{"k":"x"},null]}`, 422, []any{"body", "items", 1}},
		{"null nested field", `{"items":[{"k":null}]}`, 422, []any{"body", "items", 0, "k"}},
		{"null map value", `{"tags":{"a":null}}`, 422, []any{"body", "tags", "a"}},
		{"null list", `{"items":null}`, 422, []any{"body", "items"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v sample
			err := DecodeJSON([]byte(c.body), &v)
			var st *statusError
			var val *gate.ValidationError
			switch {
			case c.status == 0 && err != nil:
				t.Fatalf("unexpected error %v", err)
			case c.status == 400 && !(errors.As(err, &st) && st.status == 400):
				t.Fatalf("want 400, got %v", err)
			case c.status == 422:
				if !errors.As(err, &val) {
					t.Fatalf("want 422, got %v", err)
				}
				if c.wantLoc != nil && !reflect.DeepEqual(val.Fields[0].Loc, c.wantLoc) {
					t.Errorf("loc %v, want %v", val.Fields[0].Loc, c.wantLoc)
				}
			}
		})
	}
}

// FuzzDecodeJSON: any body yields either a value or a 400/422, never a panic
// and never another kind of error.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"a"}`, `[`, `{"items":[{"k":1}]}`, `{"tags":{"a":null}}`, "\x00", `{"count":1e999}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v sample
		err := DecodeJSON(body, &v)
		if err == nil {
			return
		}
		var st *statusError
		var val *gate.ValidationError
		if !errors.As(err, &st) && !errors.As(err, &val) {
			t.Fatalf("body %q: unexpected error kind %T %v", body, err, err)
		}
	})
}

// TestWholeNumber: a whole number however JSON writes it; nothing else.
func TestWholeNumber(t *testing.T) {
	for raw, want := range map[string]int{"45": 45, "45.0": 45, "4.5e1": 45, "450e-1": 45, " 7 ": 7, "-3": -3, "0": 0, "2147483647": 2147483647} {
		if got, ok := wholeNumber([]byte(raw)); !ok || got != want {
			t.Errorf("wholeNumber(%s) = %d, %v; want %d", raw, got, ok, want)
		}
	}
	for _, raw := range []string{"45.5", "1e-1", `"45"`, "true", "null", "[45]", `{"d":45}`, "", "2147483648", "1e300"} {
		if got, ok := wholeNumber([]byte(raw)); ok {
			t.Errorf("wholeNumber(%s) = %d, want none", raw, got)
		}
	}
}
