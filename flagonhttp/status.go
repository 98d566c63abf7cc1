package flagonhttp

import (
	"errors"
	"net/http"
	"strings"

	"github.com/flagon/flagon"
)

// Failures of a request to the package's handlers that are no policy or
// verification errors. They are unexported: callers see only the status.
var (
	errMethod      = errors.New("method not allowed")
	errCrossOrigin = errors.New("cross-origin request refused")
	errBadRequest  = errors.New("bad parameters")
	errRefused     = errors.New("refused by the flag's policy")
)

// statusTable maps every error the handlers answer with to its HTTP status:
// the first entry the error matches (errors.Is) decides. An error that
// matches none is a 500.
var statusTable = []struct {
	err    error
	status int
}{
	{errMethod, http.StatusMethodNotAllowed},
	{errCrossOrigin, http.StatusForbidden},
	{errRefused, http.StatusForbidden},
	{ErrNotReady, http.StatusServiceUnavailable},
	{flagon.ErrNotFound, http.StatusNotFound},
	{ErrNotOverridable, http.StatusForbidden},
	{ErrNotPermitted, http.StatusForbidden},
	{ErrValueNotAllowed, http.StatusBadRequest},
	{ErrDurationNotAllowed, http.StatusBadRequest},
	{ErrTooLarge, http.StatusBadRequest},
	{errBadRequest, http.StatusBadRequest},
}

// statusOf returns the HTTP status that answers err.
func statusOf(err error) int {
	for _, e := range statusTable {
		if errors.Is(err, e.err) {
			return e.status
		}
	}
	return http.StatusInternalServerError
}

// A requestError is why a handler refuses a request: an error of the
// status table and the parameters at fault, named for the client.
type requestError struct {
	err    error
	fields []fieldError
}

func (e *requestError) Error() string {
	msgs := make([]string, len(e.fields))
	for i, f := range e.fields {
		msgs[i] = f.Field + ": " + f.Message
	}
	return e.err.Error() + ": " + strings.Join(msgs, "; ")
}

func (e *requestError) Unwrap() error { return e.err }

// fail returns a requestError.
func fail(err error, fields ...fieldError) *requestError {
	return &requestError{err: err, fields: fields}
}
