package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/pregate/pregate/internal/gate"
)

// fromError is the one table from domain errors to HTTP. Anything unknown is
// our fault: a 500 with no detail, logged with the cause.
func (a *API) fromError(ctx context.Context, route string, err error) Response {
	var (
		nf  *gate.NotFoundError
		bad *gate.BadRequestError
		fb  *gate.ForbiddenError
		un  *gate.UnauthenticatedError
		val *gate.ValidationError
		cf  *gate.ConflictError
		big *gate.ItemTooLargeError
		st  *statusError
	)
	switch {
	case errors.As(err, &big):
		a.log.WarnContext(ctx, "write refused for item size", "route", route, "error", err.Error())
		return Response{Status: http.StatusUnprocessableEntity, Body: map[string]any{"detail": []gate.FieldError{gate.ItemTooLargeDetail()}}}
	case errors.As(err, &st):
		return detail(st.status, st.msg)
	case errors.As(err, &val):
		return Response{Status: http.StatusUnprocessableEntity, Body: map[string]any{"detail": val.Fields}}
	case errors.As(err, &nf):
		return detail(http.StatusNotFound, nf.Msg)
	case errors.As(err, &bad):
		return detail(http.StatusBadRequest, bad.Msg)
	case errors.As(err, &fb):
		return detail(http.StatusForbidden, fb.Msg)
	case errors.As(err, &un):
		return Response{Status: http.StatusUnauthorized, Body: map[string]string{"detail": un.Msg}, Headers: map[string]string{"WWW-Authenticate": "Bearer"}}
	case errors.As(err, &cf):
		return detail(http.StatusConflict, cf.Msg)
	}
	a.log.ErrorContext(ctx, "unhandled error", "route", route, "error", err.Error())
	return detail(http.StatusInternalServerError, "Internal Server Error")
}

// statusError is an HTTP-level refusal (malformed JSON, bad paging) that is
// not a domain rule.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

// BadRequest is a 400 for protocol-level problems such as malformed JSON.
func BadRequest(msg string) error { return &statusError{status: http.StatusBadRequest, msg: msg} }
