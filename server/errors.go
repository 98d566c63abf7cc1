package server

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/flagon/flagon"
)

// The REST API's own failures, beside the flagon sentinels in errorTable.
var (
	errBadRequest   = errors.New("bad request")
	errUnauthorized = errors.New("unauthorized")
	errForbidden    = errors.New("forbidden")
	errPrecondition = errors.New("precondition failed")
	errInUse        = errors.New("in use")
	errUnavailable  = errors.New("store unavailable")
)

// errorTable is the one table that maps errors to an HTTP status and the
// stable code the REST API's error body carries. Rows are tried in order
// with errors.Is; what matches none is unavailable (503) when the store
// cannot be reached, else internal (500). docs/api.md and the Error schema
// of openapi.json list the codes; a test keeps them in step.
var errorTable = []struct {
	err    error
	status int
	code   string
}{
	{errBadRequest, http.StatusBadRequest, "bad_request"},
	{flagon.ErrInvalid, http.StatusBadRequest, "invalid"},
	{errUnauthorized, http.StatusUnauthorized, "unauthorized"},
	{errForbidden, http.StatusForbidden, "forbidden"},
	{flagon.ErrSelfReview, http.StatusForbidden, "forbidden"},
	{flagon.ErrNotFound, http.StatusNotFound, "not_found"},
	{flagon.ErrReadOnly, http.StatusMethodNotAllowed, "read_only"},
	{flagon.ErrConflict, http.StatusConflict, "conflict"},
	{errInUse, http.StatusConflict, "in_use"},
	{errPrecondition, http.StatusPreconditionFailed, "precondition_failed"},
	{errUnavailable, http.StatusServiceUnavailable, "unavailable"},
}

// Codes for what errorTable does not match.
const (
	codeUnavailable = "unavailable"
	codeInternal    = "internal"
)

// statusOf returns the status and code of err, by errorTable. An
// *apiError is classified by its kind alone, so the cause it keeps for
// the log cannot change its status.
func statusOf(err error) (int, string) {
	var ae *apiError
	if errors.As(err, &ae) {
		err = ae.kind
	}
	for _, row := range errorTable {
		if errors.Is(err, row.err) {
			return row.status, row.code
		}
	}
	if unavailable(err) {
		return http.StatusServiceUnavailable, codeUnavailable
	}
	return http.StatusInternalServerError, codeInternal
}

// unavailable reports whether err means the store cannot be reached, as
// opposed to a bug: a network error, a refused connection, a timeout.
func unavailable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn)
}

// An apiError is an error as the REST API answers it: a kind (a sentinel
// of errorTable), a message for people that names the resource and never
// a package, the fields at fault, and the cause for the server log.
type apiError struct {
	kind   error
	msg    string
	fields []fieldJSON
	cause  error
}

func (e *apiError) Error() string { return e.msg }

// Unwrap returns the kind and the cause.
func (e *apiError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// newError returns an *apiError of kind with a formatted message.
func newError(kind error, format string, args ...any) *apiError {
	return &apiError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// badField returns a bad_request error about one field of the request.
func badField(field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &apiError{kind: errBadRequest, msg: field + ": " + msg, fields: []fieldJSON{{Field: field, Message: msg}}}
}

// fieldJSON is one field at fault in an error body.
type fieldJSON struct {
	Flag     string `json:"flag,omitempty"`
	Audience string `json:"audience,omitempty"`
	Field    string `json:"field"`
	Message  string `json:"message"`
}

// errorJSON is the body of every REST API error.
type errorJSON struct {
	Error  string      `json:"error"`
	Code   string      `json:"code"`
	Fields []fieldJSON `json:"fields,omitempty"`
}

// readOnlyError is a write refused because definitions come from
// elsewhere; its message says where.
type readOnlyError struct{ note string }

func (e *readOnlyError) Error() string { return e.note }
func (e *readOnlyError) Unwrap() error { return flagon.ErrReadOnly }

// invalid describes a definition that failed validation: the first
// problem, a count of the others, and each in fields.
func invalid(err error) *apiError {
	fes := flagon.FieldErrorsOf(err)
	ae := &apiError{kind: flagon.ErrInvalid, msg: "invalid definition", cause: err}
	for _, e := range fes {
		ae.fields = append(ae.fields, fieldJSON{Flag: e.Flag, Audience: e.Audience, Field: e.Field, Message: e.Msg})
	}
	switch len(fes) {
	case 0:
	case 1:
		ae.msg = fes[0].Error()
	default:
		ae.msg = fmt.Sprintf("%s (and %d more problems, each in fields)", fes[0].Error(), len(fes)-1)
	}
	return ae
}

// fail answers a request with err: the status and code from errorTable
// and a message for people. Errors of 5xx are logged and not shown.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, _ := statusOf(err)
	if status >= 500 {
		a.log.LogAttrs(r.Context(), slog.LevelError, "flagon: api", slog.String("path", r.URL.Path), slog.Any("error", err))
	}
	writeError(w, err)
}

// writeError writes err's body. An *apiError gives its message and
// fields; other errors a message by kind, for no error that reaches here
// unexplained should show a store's prefixes.
func writeError(w http.ResponseWriter, err error) {
	status, code := statusOf(err)
	body := errorJSON{Code: code}
	var ae *apiError
	var ro *readOnlyError
	switch {
	case status == http.StatusServiceUnavailable:
		body.Error = "the store is unavailable; try again"
	case status >= 500:
		body.Error = "internal error; see the server log"
	case errors.As(err, &ae):
		body.Error, body.Fields = ae.msg, ae.fields
	case errors.As(err, &ro):
		body.Error = ro.note
	case errors.Is(err, flagon.ErrInvalid):
		ae := invalid(err)
		body.Error, body.Fields = ae.msg, ae.fields
	default:
		body.Error = strings.ReplaceAll(code, "_", " ")
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="flagon"`)
	}
	writeJSON(w, status, body)
}
