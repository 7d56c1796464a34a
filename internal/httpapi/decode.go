package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/pregate/pregate/internal/gate"
)

// DecodeJSON decodes a body strictly: malformed JSON is 400; a wrong type or
// an unknown field is 422 with the FastAPI-style location of the problem.
func DecodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return gate.Invalid("field required", "value_error.missing", "body")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return BadRequest("Malformed JSON: trailing data after the JSON value")
		}
		return refuseNulls(body, reflect.TypeOf(v))
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("Malformed JSON: " + err.Error())
	case errors.As(err, &typ):
		loc := append([]any{"body"}, fieldPath(typ.Field)...)
		return gate.Invalid(fmt.Sprintf("value is not a valid %s", jsonKind(typ.Type.Kind().String())), "type_error."+jsonKind(typ.Type.Kind().String()), loc...)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return gate.Invalid("extra fields not permitted", "value_error.extra", "body", name)
	}
	return BadRequest("Malformed JSON: " + err.Error())
}

// wholeNumber reads a JSON number that must be whole, however it is
// written: JSON has one number type, so 10, 10.0 and 1e1 are all 10. It
// answers false for anything else: a fraction, a string, true, an object,
// or a value outside int32's range.
func wholeNumber(raw json.RawMessage) (int, bool) {
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
		return 0, false
	}
	return int(f), true
}

// fieldPath turns encoding/json's "identity.email" into ["identity", "email"]; encoding/json leaves out array indices and map keys.
func fieldPath(field string) []any {
	if field == "" {
		return nil
	}
	var loc []any
	for _, p := range strings.Split(field, ".") {
		if n, err := strconv.Atoi(p); err == nil {
			loc = append(loc, n)
		} else {
			loc = append(loc, p)
		}
	}
	return loc
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "str"
	case "slice", "array":
		return "list"
	case "map", "struct", "ptr":
		return "dict"
	case "bool":
		return "bool"
	case "int", "int64", "int32", "uint", "uint64":
		return "integer"
	case "float64", "float32":
		return "float"
	}
	return goKind
}

// refuseNulls refuses a JSON null wherever the API does not document one:
// encoding/json would decode it as an absent value (a nil pointer, an empty
// string), so `null` where a string is documented would pass for "not sent".
// A struct field whose tag has nullable:"true" takes null (the document's
// type [..., "null"]). t is the type decoded into; body decoded already.
func refuseNulls(body []byte, t reflect.Type) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return BadRequest("Malformed JSON: " + err.Error())
	}
	var fields []gate.FieldError
	walkNulls(v, t, []any{"body"}, &fields)
	if len(fields) == 0 {
		return nil
	}
	return &gate.ValidationError{Fields: fields}
}

var rawJSON = reflect.TypeOf(json.RawMessage(nil))

func walkNulls(v any, t reflect.Type, loc []any, out *[]gate.FieldError) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		*out = append(*out, gate.FieldError{Loc: append([]any(nil), loc...), Msg: "none is not an allowed value", Type: "type_error.none.not_allowed"})
		return
	}
	if t == rawJSON { // kept raw for the handler to judge, nulls inside included
		return
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		items, _ := v.([]any)
		for i, item := range items {
			walkNulls(item, t.Elem(), append(loc, i), out)
		}
	case reflect.Map:
		m, _ := v.(map[string]any)
		for _, k := range sortedKeys(m) {
			walkNulls(m[k], t.Elem(), append(loc, k), out)
		}
	case reflect.Struct:
		m, _ := v.(map[string]any)
		for _, k := range sortedKeys(m) {
			f, ok := jsonField(t, k)
			if !ok || (m[k] == nil && f.Tag.Get("nullable") == "true") {
				continue
			}
			walkNulls(m[k], f.Type, append(loc, k), out)
		}
	}
}

// jsonField finds the field encoding/json decodes key into (exact name first,
// then case-insensitively, as encoding/json does).
func jsonField(t reflect.Type, key string) (reflect.StructField, bool) {
	var fold *reflect.StructField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == key {
			return f, true
		}
		if fold == nil && strings.EqualFold(name, key) {
			fold = &f
		}
	}
	if fold != nil {
		return *fold, true
	}
	return reflect.StructField{}, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
