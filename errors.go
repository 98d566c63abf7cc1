package flagon

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors that callers branch on with errors.Is.
var (
	// ErrTypeMismatch means a flag was read as a type it does not have.
	ErrTypeMismatch = errors.New("type mismatch")
	// ErrNotReady means the source has not delivered a snapshot yet.
	ErrNotReady = errors.New("flags not ready")
	// ErrTargetingKeyMissing means a percentage split had nothing to hash.
	ErrTargetingKeyMissing = errors.New("targeting key missing")
	// ErrInvalid means a definition failed validation; the error is a
	// FieldErrors that says where.
	ErrInvalid = errors.New("invalid definition")
	// ErrConflict means a write was based on a stale revision.
	ErrConflict = errors.New("conflict: revision changed since read")
	// ErrNotFound means there is no such flag, audience or other record:
	// the one not-found error, from evaluation (Result.Err), snapshots and
	// stores alike. Errors that wrap it say what was not found.
	ErrNotFound = errors.New("not found")
	// ErrReadOnly means the source cannot be written.
	ErrReadOnly = errors.New("read-only source")
)

// errFlagNotFound is Result.Err for an unknown flag.
var errFlagNotFound = fmt.Errorf("flag %w", ErrNotFound)

// A FieldError names the flag (or audience) and field of a definition that
// failed validation, and says what is wrong with it. File sources fill File
// and Line.
type FieldError struct {
	File     string // file name, if the definition came from one
	Line     int    // 1-based line, if known
	Flag     string // flag key, if the error is in a flag
	Audience string // audience name, if the error is in an audience
	Field    string // path of the field within the flag, such as rules[0].serve.variant
	Msg      string
}

// Error returns "file:line: flag "key": field: message", leaving out the
// parts that are unknown.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	switch {
	case e.Flag != "":
		fmt.Fprintf(&b, "flag %q", e.Flag)
	case e.Audience != "":
		fmt.Fprintf(&b, "audience %q", e.Audience)
	}
	if e.Field != "" {
		if e.Flag != "" || e.Audience != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Field)
	}
	if e.Flag != "" || e.Audience != "" || e.Field != "" {
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns ErrInvalid, so that errors.Is(err, ErrInvalid) holds.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// FieldErrors is a list of validation errors.
type FieldErrors []*FieldError

// Error returns the one error's message, or a count followed by each
// message on its own line.
func (es FieldErrors) Error() string {
	switch len(es) {
	case 0:
		return "no errors"
	case 1:
		return es[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d errors:", len(es))
	for _, e := range es {
		b.WriteString("\n\t")
		b.WriteString(e.Error())
	}
	return b.String()
}

// FieldErrorsOf returns the validation errors in err's chain: a
// FieldErrors, or a lone *FieldError as a list of one; nil if there are
// none.
func FieldErrorsOf(err error) FieldErrors {
	var fes FieldErrors
	if errors.As(err, &fes) {
		return fes
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return FieldErrors{fe}
	}
	return nil
}

// Unwrap returns the individual errors.
func (es FieldErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
