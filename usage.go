package flagon

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
	// Sum sums the selected hours: one row per flag, variant,
	// environment and app, whose Hour is the last hour with counts. The
	// console's views read usage so, which keeps them fast however many
	// hours the store keeps.
	Sum bool
}

// UsageAround reads what the per-flag views need about windows that
// start at the cuts (such as 14 and 7 days ago), in one summed query
// (UsageQuery.Sum) of q's rows per stretch between them: the hours
// before the first cut, those from it to the next, and so on. Each row's
// Hour falls in its stretch, so SummarizeUsage and ReadyToRemove take the
// result as they take every hourly row, for a window starting at any of
// the cuts, and say the same.
func UsageAround(ctx context.Context, s UsageStore, q UsageQuery, cuts ...time.Time) ([]UsageCount, error) {
	cuts = slices.Clone(cuts)
	slices.SortFunc(cuts, time.Time.Compare)
	var out []UsageCount
	from := q.Since
	for i := 0; i <= len(cuts); i++ {
		part := q
		part.Sum = true
		part.Since = from
		if i < len(cuts) {
			part.Until = cuts[i]
			if !q.Until.IsZero() && q.Until.Before(part.Until) {
				part.Until = q.Until
			}
			from = cuts[i]
		}
		rows, err := s.Usage(ctx, part)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
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

// A UsageReporter is a Source that sends usage counts to where its flags
// come from (remote.Source sends them to its Flagon server). NewClient
// hands such a source take, which returns the counts the client collected
// since the last call, attributed to the hour of now; the reporter calls
// it every interval, from its own goroutine.
type UsageReporter interface {
	ReportUsage(take func(now time.Time) []UsageCount)
}

// FlagUsage sums the usage counts of one flag.
type FlagUsage struct {
	Flag  string `json:"flag"`
	Total int64  `json:"total"`
	// First and Last are the first and last hours with counts.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Variants counts the evaluations per variant served ("" for none).
	Variants map[string]int64 `json:"variants"`
	// Apps lists the applications that reported counts, sorted.
	Apps []string `json:"apps"`
}

// SummarizeUsage sums counts per flag.
func SummarizeUsage(counts []UsageCount) map[string]*FlagUsage {
	out := make(map[string]*FlagUsage)
	apps := make(map[[2]string]bool)
	for _, c := range counts {
		u := out[c.Flag]
		if u == nil {
			u = &FlagUsage{Flag: c.Flag, First: c.Hour, Last: c.Hour, Variants: map[string]int64{}}
			out[c.Flag] = u
		}
		u.Total += c.Count
		u.Variants[c.Variant] += c.Count
		if c.Hour.Before(u.First) {
			u.First = c.Hour
		}
		if c.Hour.After(u.Last) {
			u.Last = c.Hour
		}
		if k := [2]string{c.Flag, c.App}; !apps[k] {
			apps[k] = true
			u.Apps = append(u.Apps, c.App)
		}
	}
	for _, u := range out {
		slices.Sort(u.Apps)
	}
	return out
}

// A RemovalReason says why a flag looks ready to be removed from code.
type RemovalReason string

// The reasons ReadyToRemove gives.
const (
	// RemovalNotEvaluated: nothing evaluated the flag in the window.
	RemovalNotEvaluated RemovalReason = "not-evaluated"
	// RemovalOneVariant: every evaluation in the window served one
	// variant, and the flag has been evaluated for at least the window.
	RemovalOneVariant RemovalReason = "one-variant"
	// RemovalExpired: the flag's expiry date has passed.
	RemovalExpired RemovalReason = "expired"
)

// A RemovalCandidate is a flag that looks ready to be removed, with why.
type RemovalCandidate struct {
	Flag    string          `json:"flag"`
	Reasons []RemovalReason `json:"reasons"`
	// Detail says it in words: "last evaluated 2026-10-21", "served on to
	// all 12400 evaluations since 2026-11-10", "expired 2026-11-01".
	Detail string `json:"detail"`
	// LastEvaluated is the last hour with counts, zero if none are kept.
	LastEvaluated time.Time `json:"last_evaluated,omitzero"`
	// Variant is the one variant served, for RemovalOneVariant.
	Variant string `json:"variant,omitempty"`
}

// UsageSince returns the counts of hours at or after t.
func UsageSince(counts []UsageCount, t time.Time) []UsageCount {
	var out []UsageCount
	for _, c := range counts {
		if !c.Hour.Before(t) {
			out = append(out, c)
		}
	}
	return out
}

// ReadyToRemove lists the flags that look ready to be removed at now:
// those nothing evaluated in the window before now, those that served a
// single variant to every evaluation in the window (and were evaluated
// for at least that long), and those past their expiry. counts should
// reach back further than the window (a store's whole retention), so that
// the last evaluation of a flag unused for longer is known. The result is
// sorted by flag key.
func ReadyToRemove(flags []Flag, counts []UsageCount, now time.Time, window time.Duration) []RemovalCandidate {
	since := now.Add(-window)
	all, inWindow := SummarizeUsage(counts), SummarizeUsage(UsageSince(counts, since))
	var out []RemovalCandidate
	for _, f := range flags {
		c := RemovalCandidate{Flag: f.Key}
		var details []string
		if u := all[f.Key]; u != nil {
			c.LastEvaluated = u.Last
		}
		w := inWindow[f.Key]
		switch {
		case w == nil && c.LastEvaluated.IsZero():
			c.Reasons = append(c.Reasons, RemovalNotEvaluated)
			details = append(details, "no evaluation kept")
		case w == nil:
			c.Reasons = append(c.Reasons, RemovalNotEvaluated)
			details = append(details, "last evaluated "+c.LastEvaluated.Format(time.DateOnly))
		case len(w.Variants) == 1 && !all[f.Key].First.After(since):
			for v := range w.Variants {
				c.Variant = v
			}
			if c.Variant != "" {
				c.Reasons = append(c.Reasons, RemovalOneVariant)
				details = append(details, fmt.Sprintf("served %s to all %d evaluations since %s", c.Variant, w.Total, since.Format(time.DateOnly)))
			}
		}
		if !f.Expires.IsZero() && f.Expires.Before(now) {
			c.Reasons = append(c.Reasons, RemovalExpired)
			details = append(details, "expired "+f.Expires.Format(time.DateOnly))
		}
		if len(c.Reasons) > 0 {
			c.Detail = strings.Join(details, "; ")
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b RemovalCandidate) int { return strings.Compare(a.Flag, b.Flag) })
	return out
}
