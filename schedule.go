package flagon

import (
	"context"
	"fmt"
	"maps"
	"time"
)

// A ScheduleStatus is where a ScheduledChange is in its life.
type ScheduleStatus string

// The statuses of a ScheduledChange. Only a pending change can move, and
// only once: to applied, cancelled or failed.
const (
	SchedulePending   ScheduleStatus = "pending"
	ScheduleApplied   ScheduleStatus = "applied"
	ScheduleCancelled ScheduleStatus = "cancelled"
	ScheduleFailed    ScheduleStatus = "failed"
)

// A ScheduledChange is a flag definition to put at a given time: one step
// of a planned change such as a rollout that goes from 10 to 50 to 100
// percent (see RolloutSteps). A ScheduleStore applies it once, at or after
// At, as its author would have put it then, and audits the put with the
// actor ScheduleActor (docs/decisions/0171).
type ScheduledChange struct {
	// ID is set by the store.
	ID int64 `json:"id"`
	// Flag is the key of the flag the change puts; Definition.Key must
	// match it.
	Flag string `json:"flag"`
	// Environment is the environment the change is about, if one; it
	// becomes the audit entry's.
	Environment string `json:"environment,omitempty"`
	// Author is who scheduled the change: the Change.Actor of
	// AddScheduled.
	Author string `json:"author"`
	// Reason is the author's, if given; the audit entry of the put quotes it.
	Reason string `json:"reason,omitempty"`
	// At is when the change is due.
	At time.Time `json:"at"`
	// Definition is the whole flag as it is to be after the change. It is
	// put over whatever version the flag then has.
	Definition Flag `json:"definition"`
	// BaseVersion is the flag version the change was planned against, for
	// people comparing; it does not stop the put.
	BaseVersion int64          `json:"base_version,omitempty"`
	Status      ScheduleStatus `json:"status"`
	// CreatedAt is set by the store.
	CreatedAt time.Time `json:"created_at"`
	// DoneAt is when the change was applied, cancelled or failed.
	DoneAt time.Time `json:"done_at,omitzero"`
	// DoneBy is who cancelled the change, or ScheduleActor.
	DoneBy string `json:"done_by,omitempty"`
	// Error says why a failed change failed.
	Error string `json:"error,omitempty"`
}

// ScheduleActor is the Change.Actor of the puts that apply scheduled
// changes; the audit entry's reason names the author.
const ScheduleActor = "scheduler"

// ScheduleReason returns the audit reason of the put that applies sc.
func ScheduleReason(sc ScheduledChange) string {
	r := fmt.Sprintf("scheduled by %s (#%d)", sc.Author, sc.ID)
	if sc.Reason != "" {
		r += ": " + sc.Reason
	}
	if len(r) > MaxAuditReasonLen {
		r = r[:MaxAuditReasonLen]
	}
	return r
}

// Validate reports what makes sc unfit for ScheduleStore.AddScheduled, as
// FieldErrors: a valid flag key that the definition's matches, a time, a
// reason within MaxAuditReasonLen, and a definition that is valid on its
// own (the audiences it names are checked when it is applied).
func (sc *ScheduledChange) Validate() error {
	var errs FieldErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Flag: sc.Flag, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if !ValidKey(sc.Flag) {
		add("flag", "invalid flag key %q", sc.Flag)
	} else if sc.Definition.Key != sc.Flag {
		add("definition.key", "definition of %q scheduled for flag %q", sc.Definition.Key, sc.Flag)
	}
	if sc.Environment != "" && !ValidKey(sc.Environment) {
		add("environment", "invalid environment name %q", sc.Environment)
	}
	if sc.At.IsZero() {
		add("at", "a scheduled change needs a time")
	}
	if len(sc.Reason) > MaxAuditReasonLen/2 || !printable(sc.Reason) {
		add("reason", "reason must be at most %d printable characters", MaxAuditReasonLen/2)
	}
	if len(errs) == 0 && ValidKey(sc.Definition.Key) {
		f := sc.Definition.Normalize()
		// Audiences are the store's business at apply time: allow any.
		if err := f.Validate(namedAudiences(f)); err != nil {
			if fe, ok := err.(FieldErrors); ok {
				for _, e := range fe {
					e.Field = "definition." + e.Field
					errs = append(errs, e)
				}
			} else {
				add("definition", "%v", err)
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// namedAudiences returns every audience f names, as known.
func namedAudiences(f Flag) map[string]bool {
	out := map[string]bool{}
	note := func(rules []Rule) {
		for _, r := range rules {
			for _, a := range r.Audiences {
				out[a] = true
			}
		}
	}
	note(f.Rules)
	for _, e := range f.Environments {
		if e.Rules != nil {
			note(*e.Rules)
		}
	}
	if f.Override.Audience != "" {
		out[f.Override.Audience] = true
	}
	return out
}

// ScheduleQuery selects scheduled changes; zero fields select all.
type ScheduleQuery struct {
	Flag   string
	Status ScheduleStatus
	// Limit bounds how many come back; zero means no bound.
	Limit int
}

// A ScheduleStore keeps flag changes to apply at given times, and applies
// them: each exactly once, by whichever instance of a shared database
// gets there first, late if none was running when it fell due.
// flagontest.TestScheduleStore checks any implementation.
type ScheduleStore interface {
	// AddScheduled stores sc, after sc.Validate, as a pending change
	// whose Author and Environment are c's, and returns its ID. The add
	// is audited as schedule.add.
	AddScheduled(ctx context.Context, sc ScheduledChange, c Change) (int64, error)
	// Scheduled returns the changes q selects, in order of At, then ID.
	Scheduled(ctx context.Context, q ScheduleQuery) ([]ScheduledChange, error)
	// CancelScheduled cancels a pending change, audited as
	// schedule.cancel. An unknown ID is ErrNotFound; a change that is no
	// longer pending is ErrConflict.
	CancelScheduled(ctx context.Context, id int64, c Change) error
	// ApplyDue applies the pending changes due at now (At not after it),
	// in order of At, then ID, each in one transaction that puts its
	// definition over the flag's current version, as PutFlag does, and
	// marks it applied, so that no change is applied twice however many
	// callers race. The put is audited with the actor ScheduleActor and
	// the reason ScheduleReason. A change whose definition the store
	// refuses (FieldErrors) is marked failed with the error instead. It
	// returns the changes it applied or failed.
	ApplyDue(ctx context.Context, now time.Time) ([]ScheduledChange, error)
}

// RolloutSteps plans a gradual rollout of variant of f: one change per
// time in at, the i'th serving variant to percents[i] percent of f's
// fallthrough and f's default variant to the rest (100 serves variant
// alone). With env set, the steps change that environment's fallthrough
// only. The changes' Definition, Flag, At and BaseVersion are set;
// AddScheduled each of them.
func RolloutSteps(f StoredFlag, env, variant string, percents []float64, at []time.Time) ([]ScheduledChange, error) {
	if len(percents) != len(at) || len(at) == 0 {
		return nil, fmt.Errorf("rollout of %q: %d percents for %d times", f.Key, len(percents), len(at))
	}
	rest := f.Normalize().Default
	if env != "" {
		if e, ok := f.Environments[env]; ok && e.Default != nil {
			rest = *e.Default
		}
	}
	if rest == variant {
		return nil, fmt.Errorf("rollout of %q: %q is already the default variant", f.Key, variant)
	}
	var out []ScheduledChange
	for i, p := range percents {
		if p <= 0 || p > 100 {
			return nil, fmt.Errorf("rollout of %q: step %d: %v percent is not in (0, 100]", f.Key, i+1, p)
		}
		if i > 0 && !at[i].After(at[i-1]) {
			return nil, fmt.Errorf("rollout of %q: step %d is not after step %d", f.Key, i+1, i)
		}
		serve := Serve{Variant: variant}
		if p < 100 {
			serve = Serve{Split: []Split{{Variant: variant, Percent: p}, {Variant: rest, Percent: 100 - p}}}
		}
		def := copyFlagForStep(f.Flag)
		if env == "" {
			def.Fallthrough = serve
		} else {
			e := def.Environments[env]
			s := serve
			e.Fallthrough = &s
			def.Environments[env] = e
		}
		out = append(out, ScheduledChange{Flag: f.Key, Environment: env, At: at[i], Definition: def, BaseVersion: f.Version})
	}
	return out, nil
}

// copyFlagForStep returns f with its own Environments map, which a step
// may change.
func copyFlagForStep(f Flag) Flag {
	envs := maps.Clone(f.Environments)
	if envs == nil {
		envs = map[string]EnvSettings{}
	}
	f.Environments = envs
	return f
}
