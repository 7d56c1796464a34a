// Package gate holds the rules of the pre-approval gate: connections,
// pre-approval webhooks, privacy requests and their life, and the small
// interfaces (ports) the rules need from storage, queues, keys and the network.
// It imports no AWS package.
package gate

import "fmt"

// The error kinds below carry the exact user-facing text; the HTTP
// layer maps each kind to one status code in one table.

// NotFoundError is a missing resource (404).
type NotFoundError struct{ Msg string }

func (e *NotFoundError) Error() string { return e.Msg }

// BadRequestError is a request that cannot be carried out as asked (400).
type BadRequestError struct{ Msg string }

func (e *BadRequestError) Error() string { return e.Msg }

// ForbiddenError is a refused credential (403).
type ForbiddenError struct{ Msg string }

func (e *ForbiddenError) Error() string { return e.Msg }

// UnauthenticatedError is a missing credential (401).
type UnauthenticatedError struct{ Msg string }

func (e *UnauthenticatedError) Error() string { return e.Msg }

// FieldError is one body validation problem, shaped like FastAPI's
// {"loc": ["body", 0, "name"], "msg": "field required", "type": "value_error.missing"}.
type FieldError struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// ValidationError is a body that does not validate (422).
type ValidationError struct{ Fields []FieldError }

func (e *ValidationError) Error() string {
	if len(e.Fields) == 0 {
		return "validation error"
	}
	return fmt.Sprintf("validation error: %v: %s", e.Fields[0].Loc, e.Fields[0].Msg)
}

// Invalid builds a single-field ValidationError.
func Invalid(msg, typ string, loc ...any) *ValidationError {
	return &ValidationError{Fields: []FieldError{{Loc: loc, Msg: msg, Type: typ}}}
}

// ConflictError is a conditional write that lost a race. Use cases retry or
// turn it into a user-facing error; it reaches the HTTP layer only as a 409.
type ConflictError struct{ Msg string }

func (e *ConflictError) Error() string { return e.Msg }

// ItemTooLargeError is a write the store refused because the stored item
// would exceed the largest size it may have. It is a fault of the input,
// never a reason to retry: the routes answer 422 (a bulk route fails that
// item), the dispatcher records the delivery as failed.
type ItemTooLargeError struct {
	Msg   string
	Cause error
}

func (e *ItemTooLargeError) Error() string { return e.Msg }

func (e *ItemTooLargeError) Unwrap() error { return e.Cause }

// msgItemTooLarge is what an admin or a data subject is told of an
// *ItemTooLargeError.
const msgItemTooLarge = "The stored item would exceed its largest size; nothing was changed."

// ItemTooLargeDetail is the 422 body item of an *ItemTooLargeError.
func ItemTooLargeDetail() FieldError {
	return FieldError{Loc: []any{"body"}, Msg: msgItemTooLarge, Type: "value_error.item_size"}
}
