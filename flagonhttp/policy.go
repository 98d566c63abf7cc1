package flagonhttp

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/flagon/flagon"
)

// Sentinel errors of the override policy, wrapped in a *PolicyError.
var (
	// ErrNotOverridable means the flag's policy is none: operations kill
	// switches and permissions are never overridden.
	ErrNotOverridable = errors.New("flag may not be overridden")
	// ErrNotPermitted means the flag's policy is staff, and the request is
	// neither allowed by Options.CanOverride nor in the policy's audience.
	ErrNotPermitted = errors.New("not permitted to override this flag")
	// ErrValueNotAllowed means the value is not of the flag's type, or not
	// one of the variants its policy allows.
	ErrValueNotAllowed = errors.New("value not allowed")
	// ErrDurationNotAllowed means the duration is not positive, or longer
	// than the policy's maximum.
	ErrDurationNotAllowed = errors.New("duration not allowed")
	// ErrNotReady means no flags have been loaded yet.
	ErrNotReady = errors.New("flags not loaded")
)

// A PolicyError says why an override was refused: the flag, the field at
// fault (as the override link names it: "name", "value", "duration") and
// the reason. It unwraps to one of the sentinels above, or to
// flagon.ErrNotFound.
type PolicyError struct {
	Flag  string
	Field string
	Err   error
	Msg   string // detail for people; may be empty
}

// Error returns the flag, the field and why, such as
// flag "short": duration: duration not allowed: 7200 seconds is longer than the 3600 the policy allows.
func (e *PolicyError) Error() string {
	s := fmt.Sprintf("flag %q: %s: %v", e.Flag, e.Field, e.Err)
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// Unwrap returns the sentinel.
func (e *PolicyError) Unwrap() error { return e.Err }

// A Policy applies flags' override policies to requests: who may override
// a flag, to which values, for how long. The core checks a value's type;
// the Policy adds who and how long. The zero Policy lets no one override
// staff flags.
type Policy struct {
	// CanOverride reports whether r may override the staff-policy flag f,
	// beside the members of the policy's audience. Nil allows no one but
	// the audience.
	CanOverride func(r *http.Request, f flagon.Flag) bool
	// Context builds r's evaluation context when r's context carries none
	// (the middleware puts one there), to test the policy's audience.
	Context func(r *http.Request) flagon.EvalContext
}

// Check reports whether r may override the flag with the given key to
// value for duration d under snap's policies, and returns the value in
// canonical form. The error is a *PolicyError naming the field at fault:
// "name" for an unknown flag (flagon.ErrNotFound), "name" for a flag
// that may not be overridden or that r may not override, "value" for a
// value outside the type or the policy's variants, "duration" for one that
// is not positive or longer than the policy allows.
func (p *Policy) Check(r *http.Request, snap *flagon.Snapshot, key string, value any, d time.Duration) (any, error) {
	f, err := p.Permit(r, snap, key)
	if err != nil {
		return nil, err
	}
	cv, err := snap.CheckOverride(key, value)
	if err != nil {
		return nil, &PolicyError{Flag: key, Field: "value", Err: ErrValueNotAllowed, Msg: err.Error()}
	}
	if err := checkDuration(f, d); err != nil {
		return nil, err
	}
	return cv, nil
}

// Permit reports whether r may override the flag with the given key at
// all, whatever the value, and returns the flag.
func (p *Policy) Permit(r *http.Request, snap *flagon.Snapshot, key string) (flagon.Flag, error) {
	if snap == nil {
		return flagon.Flag{}, &PolicyError{Flag: key, Field: "name", Err: ErrNotReady}
	}
	f, ok := snap.Flag(key)
	if !ok {
		return flagon.Flag{}, &PolicyError{Flag: key, Field: "name", Err: flagon.ErrNotFound}
	}
	switch f.Override.EffectiveWho() {
	case flagon.WhoNone:
		return f, &PolicyError{Flag: key, Field: "name", Err: ErrNotOverridable}
	case flagon.WhoAnyone:
		return f, nil
	}
	if p.CanOverride != nil && p.CanOverride(r, f) {
		return f, nil
	}
	if aud := f.Override.Audience; aud != "" && snap.InAudience(aud, p.evalContext(r)) {
		return f, nil
	}
	return f, &PolicyError{Flag: key, Field: "name", Err: ErrNotPermitted, Msg: "the flag's policy is staff"}
}

func (p *Policy) evalContext(r *http.Request) flagon.EvalContext {
	ec := flagon.EvalContextFrom(r.Context())
	if ec.Key == "" && ec.Attrs == nil && p.Context != nil {
		ec = p.Context(r)
	}
	return ec
}

func checkDuration(f flagon.Flag, d time.Duration) error {
	maxDur := f.Override.EffectiveMaxDuration()
	switch {
	case d <= 0:
		return &PolicyError{Flag: f.Key, Field: "duration", Err: ErrDurationNotAllowed, Msg: "must be positive"}
	case d > maxDur:
		return &PolicyError{Flag: f.Key, Field: "duration", Err: ErrDurationNotAllowed,
			Msg: fmt.Sprintf("%d seconds is longer than the %d the policy allows", int64(d/time.Second), int64(maxDur/time.Second))}
	}
	return nil
}
