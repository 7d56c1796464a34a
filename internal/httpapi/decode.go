package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
		return nil
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
