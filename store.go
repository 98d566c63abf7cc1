package flagon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// A Store is the read-write home of flag definitions, beside the read-only
// Source: the admin UI, the REST API and the CLI write to it, and a
// StoreSource turns it into snapshots. Every write is one transaction,
// which in a store that is also an AuditLog appends the write's audit
// entry. Writes use optimistic concurrency: a write that names a stale
// version fails with ErrConflict and changes nothing.
//
// Implementations: sqlite (the default), postgres, and the in-memory
// store in flagontest. flagontest.TestStore checks any implementation;
// a store must enforce what Flag.Validate and
// Definitions.CheckAudienceDelete check.
type Store interface {
	// Load returns every live (not archived) flag and every audience, and
	// the store's revision: a number that grows with every write.
	Load(ctx context.Context) (Definitions, int64, error)
	// Revision returns the store's current revision.
	Revision(ctx context.Context) (int64, error)
	// Watch calls fn with the new revision after every write, from this or
	// (for shared databases) any other instance, until ctx is done. It
	// returns at once; fn is called from a goroutine of the store.
	// Notifier does the bookkeeping.
	Watch(ctx context.Context, fn func(revision int64)) error

	// Flags returns every flag, archived ones included, sorted by key.
	Flags(ctx context.Context) ([]StoredFlag, error)
	// Flag returns one flag, or ErrNotFound.
	Flag(ctx context.Context, key string) (StoredFlag, error)
	// PutFlag creates (version 0) or replaces (the version read) a flag,
	// returning its new version. The flag is validated against the
	// store's audiences first; an invalid flag gives a FieldErrors.
	PutFlag(ctx context.Context, f Flag, version int64, c Change) (int64, error)
	// ArchiveFlag archives (or, with archived false, restores) a flag.
	ArchiveFlag(ctx context.Context, key string, archived bool, version int64, c Change) (int64, error)

	// Audiences returns every audience, sorted by name, with versions.
	Audiences(ctx context.Context) ([]StoredAudience, error)
	// PutAudience creates (version 0) or replaces an audience.
	PutAudience(ctx context.Context, a Audience, version int64, c Change) (int64, error)
	// DeleteAudience deletes an audience no live flag refers to.
	DeleteAudience(ctx context.Context, name string, version int64, c Change) error
}

// An AuditLog keeps who changed what, when and why. A store that is also
// an AuditLog appends an entry in the transaction of each of its writes;
// AppendAudit records events that change no stored record, such as an
// override set in a browser's cookie or a sign-in.
// flagontest.TestAuditLog checks any implementation.
type AuditLog interface {
	// Audit returns the entries that match q, newest first.
	Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// AppendAudit records e, after e.Validate. It fills e.ID, e.Time (if
	// zero) and e.Revision: the entry takes the store's current
	// revision, which it does not bump, and watchers are not called.
	AppendAudit(ctx context.Context, e AuditEntry) error
	// PruneAudit deletes the entries older than before, returning how
	// many it deleted.
	PruneAudit(ctx context.Context, before time.Time) (int64, error)
}

// Change says who makes a write and why; it becomes part of the audit
// entry.
type Change struct {
	Actor       string // who: a user name, "cli", "api:<token name>"
	Reason      string // why; required by the admin UI for production changes
	Environment string // the environment the change is about, if one
}

// StoredFlag is a flag as a store keeps it.
type StoredFlag struct {
	Flag
	Version   int64     `json:"version"`
	Archived  bool      `json:"archived,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

// StoredAudience is an audience as a store keeps it.
type StoredAudience struct {
	Audience
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AuditEntry records one write: who, what (before and after), when, why.
type AuditEntry struct {
	ID          int64           `json:"id"`
	Time        time.Time       `json:"time"`
	Actor       string          `json:"actor"`
	Action      string          `json:"action"` // such as flag.create, flag.update, flag.archive, audience.update, override.set, share.create
	Target      string          `json:"target"` // the flag key, audience name, user or token ID
	Environment string          `json:"environment,omitempty"`
	Reason      string          `json:"reason,omitempty"`
	Before      json.RawMessage `json:"before,omitempty"`
	After       json.RawMessage `json:"after,omitempty"`
	Revision    int64           `json:"revision"`
}

// Limits of an audit entry's text fields, which AuditEntry.Validate
// enforces so that no caller can grow the log by more than a bounded
// amount per entry.
const (
	MaxAuditActorLen  = 256
	MaxAuditTargetLen = 256
	MaxAuditReasonLen = 1024
	MaxAuditValueLen  = 64 << 10 // Before and After, each
)

// Validate reports what makes e unfit for AuditLog.AppendAudit, as
// FieldErrors: an action is required, text fields have their limits, and
// Before and After must be valid JSON if set.
func (e *AuditEntry) Validate() error {
	var errs FieldErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(e.Action) == "" {
		add("action", "an audit entry needs an action")
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"action", e.Action, MaxAuditTargetLen}, {"actor", e.Actor, MaxAuditActorLen}, {"target", e.Target, MaxAuditTargetLen}, {"environment", e.Environment, MaxAuditTargetLen}, {"reason", e.Reason, MaxAuditReasonLen}} {
		if len(f.v) > f.max {
			add(f.name, "%d bytes, more than the %d allowed", len(f.v), f.max)
		}
	}
	for _, f := range []struct {
		name string
		v    json.RawMessage
	}{{"before", e.Before}, {"after", e.After}} {
		switch {
		case len(f.v) > MaxAuditValueLen:
			add(f.name, "%d bytes, more than the %d allowed", len(f.v), MaxAuditValueLen)
		case len(f.v) > 0 && !json.Valid(f.v):
			add(f.name, "not valid JSON")
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// AuditQuery filters audit entries. Zero fields match everything.
type AuditQuery struct {
	Target string
	Actor  string
	Since  time.Time
	Until  time.Time
	Limit  int // zero means DefaultAuditLimit
}

// DefaultAuditLimit is how many audit entries a query with no limit
// returns.
const DefaultAuditLimit = 100

// CheckAudienceDelete returns the field errors that deleting the named
// audience would cause in d's flags (those that refer to it), or nil when
// nothing refers to it. Stores call it with their live definitions before
// DeleteAudience.
func (d *Definitions) CheckAudienceDelete(name string) error {
	without := Definitions{Flags: d.Flags}
	for _, a := range d.Audiences {
		if a.Name != name {
			without.Audiences = append(without.Audiences, a)
		}
	}
	err := without.Validate()
	var fes FieldErrors
	if !errors.As(err, &fes) {
		return err
	}
	// Report only what the deletion breaks.
	var out FieldErrors
	for _, fe := range fes {
		if strings.Contains(fe.Msg, fmt.Sprintf("unknown audience %q", name)) {
			out = append(out, fe)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
