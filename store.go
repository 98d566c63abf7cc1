package flagon

import (
	"context"
	"encoding/json"
	"time"
)

// A Store is the read-write home of flag definitions, beside the read-only
// Source: the admin UI, the REST API and the CLI write to it, and a
// StoreSource turns it into snapshots. Every write is one transaction that
// also appends its audit entry. Writes use optimistic concurrency: a write
// that names a stale version fails with ErrConflict and changes nothing.
//
// Implementations: sqlite (the default), postgres, and the in-memory store
// in flagontest. flagontest.TestStore checks any implementation.
type Store interface {
	// Load returns every live (not archived) flag and every audience, and
	// the store's revision: a number that grows with every write.
	Load(ctx context.Context) (Definitions, int64, error)
	// Revision returns the store's current revision.
	Revision(ctx context.Context) (int64, error)

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

	// UserOverrides returns the server-side overrides of one user (a
	// login), expired ones left out.
	UserOverrides(ctx context.Context, user string) (OverrideMap, error)
	// AllUserOverrides returns every user's live overrides, for admins.
	AllUserOverrides(ctx context.Context) ([]UserOverride, error)
	// SetUserOverride sets one user's override of one flag.
	SetUserOverride(ctx context.Context, user, flag string, o Override, c Change) error
	// DeleteUserOverride removes one user's override of one flag; removing
	// one that does not exist is not an error.
	DeleteUserOverride(ctx context.Context, user, flag string, c Change) error

	// CreateShareToken records a share link's token.
	CreateShareToken(ctx context.Context, t ShareToken, c Change) error
	// ShareToken returns a token by ID, or ErrNotFound.
	ShareToken(ctx context.Context, id string) (ShareToken, error)
	// ShareTokens returns every token, newest first.
	ShareTokens(ctx context.Context) ([]ShareToken, error)
	// RevokeShareToken revokes a token.
	RevokeShareToken(ctx context.Context, id string, c Change) error

	// Audit returns audit entries, newest first, that match the filter.
	Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// AppendAudit records an event that changes no stored record, such
	// as an override set in a browser's cookie. It fills e.ID, e.Time (if
	// zero) and e.Revision. The entry takes the current revision, which
	// it does not bump, and watchers are not called. e.Action is
	// required; e.Before and e.After, if set, must be valid JSON.
	AppendAudit(ctx context.Context, e AuditEntry) error

	// Watch calls fn with the new revision after every write, from this or
	// (for shared databases) any other instance, until ctx is done. It
	// returns at once; fn is called from a goroutine of the store.
	Watch(ctx context.Context, fn func(revision int64)) error

	// Close releases the store's resources.
	Close() error
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

// UserOverride is one user's server-side override of one flag.
type UserOverride struct {
	User string `json:"user"`
	Flag string `json:"flag"`
	Override
}

// ShareToken is a share link's record: it grants whoever opens the link an
// override of one flag to one value for a duration, until it expires or is
// revoked.
type ShareToken struct {
	ID        string        `json:"id"`
	Flag      string        `json:"flag"`
	Value     any           `json:"value"`
	Duration  time.Duration `json:"duration"` // how long the override it grants lasts
	ExpiresAt time.Time     `json:"expires_at"`
	CreatedAt time.Time     `json:"created_at"`
	CreatedBy string        `json:"created_by"`
	Revoked   bool          `json:"revoked,omitempty"`
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

// AuditQuery filters audit entries. Zero fields match everything.
type AuditQuery struct {
	Target string
	Actor  string
	Since  time.Time
	Until  time.Time
	Limit  int // zero means 100
}
