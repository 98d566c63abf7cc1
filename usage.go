package flagon

import (
	"context"
	"fmt"
	"time"
)

// UsageCount is how many times a flag was evaluated to a variant in one
// hour, in one environment, by one application: the unit in which
// clients report usage and stores keep it.
type UsageCount struct {
	// Hour is the start of the hour, in UTC.
	Hour        time.Time `json:"hour"`
	Flag        string    `json:"flag"`
	Variant     string    `json:"variant,omitempty"` // empty when no variant was served (an error, a default)
	Environment string    `json:"environment,omitempty"`
	App         string    `json:"app,omitempty"`
	Count       int64     `json:"count"`
}

// Limits of a UsageCount's fields, which bound what a reporting client
// can make a store keep.
const (
	MaxAppLen         = 64
	MaxEnvironmentLen = MaxKeyLen
)

// Validate reports what makes u unfit for a UsageStore, as FieldErrors:
// a valid flag key, a variant name a flag could have (or none), short
// environment and app names, an hour that starts an hour, and a positive
// count.
func (u *UsageCount) Validate() error {
	var errs FieldErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Flag: u.Flag, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if !ValidKey(u.Flag) {
		add("flag", "invalid flag key %q", u.Flag)
	}
	if u.Variant != "" && !validVariantName(u.Variant) {
		add("variant", "invalid variant name %q", u.Variant)
	}
	if u.Environment != "" && !ValidKey(u.Environment) {
		add("environment", "invalid environment name %q", u.Environment)
	}
	if len(u.App) > MaxAppLen || !printable(u.App) {
		add("app", "app name must be at most %d printable characters", MaxAppLen)
	}
	if u.Hour.IsZero() || !u.Hour.Equal(u.Hour.Truncate(time.Hour)) {
		add("hour", "%v does not start an hour", u.Hour)
	}
	if u.Count <= 0 {
		add("count", "count %d is not positive", u.Count)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// MaxUsageBatch bounds how many counts one UsageStore.AddUsage call may
// carry.
const MaxUsageBatch = 10000

// ValidateUsage checks a batch for UsageStore.AddUsage: at most
// MaxUsageBatch counts, each valid. It returns FieldErrors naming each
// bad count by its index.
func ValidateUsage(counts []UsageCount) error {
	if len(counts) > MaxUsageBatch {
		return FieldErrors{{Field: "counts", Msg: fmt.Sprintf("%d counts in one batch; at most %d", len(counts), MaxUsageBatch)}}
	}
	var errs FieldErrors
	for i := range counts {
		if err := counts[i].Validate(); err != nil {
			for _, fe := range err.(FieldErrors) {
				fe.Field = fmt.Sprintf("counts[%d].%s", i, fe.Field)
				errs = append(errs, fe)
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// printable reports whether s has no control characters.
func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// UsageQuery selects usage counts; zero fields select all.
type UsageQuery struct {
	Flag        string
	Environment string
	App         string
	Since       time.Time // hours at or after
	Until       time.Time // hours before
}

// A UsageStore keeps evaluation counts aggregated per hour, flag,
// variant, environment and app. `flagon serve` records what clients
// report and what it evaluates itself; the console and `flagon lint
// -server` read it to show which flags are used and which are ready to
// remove.
type UsageStore interface {
	// AddUsage adds each count, after ValidateUsage, to the row of
	// its hour, flag, variant, environment and app (creating it). It is
	// all or nothing.
	AddUsage(ctx context.Context, counts []UsageCount) error
	// Usage returns the rows q selects, ordered by hour, then flag,
	// variant, environment and app.
	Usage(ctx context.Context, q UsageQuery) ([]UsageCount, error)
	// PruneUsage deletes the rows of hours before before, returning how
	// many it deleted.
	PruneUsage(ctx context.Context, before time.Time) (int64, error)
}
