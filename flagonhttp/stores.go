package flagonhttp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flagon/flagon"
)

// A UserOverrideStore keeps server-side overrides per login, so that a
// tester's choices follow them from browser to browser. The admin console
// writes them; Options.UserOverrides reads them for the middleware. Every
// write appends its audit entry in a store that is also a
// flagon.AuditLog. flagontest.TestUserOverrideStore checks any
// implementation, which must enforce UserOverride.Validate.
type UserOverrideStore interface {
	// UserOverrides returns the live overrides of one user (a login);
	// expired ones are left out.
	UserOverrides(ctx context.Context, user string) (flagon.OverrideMap, error)
	// AllUserOverrides returns every user's live overrides, for admins.
	AllUserOverrides(ctx context.Context) ([]UserOverride, error)
	// SetUserOverride sets one user's override of one flag. An empty
	// Source becomes "user", a zero SetAt the time of the write.
	SetUserOverride(ctx context.Context, o UserOverride, c flagon.Change) error
	// DeleteUserOverride removes one user's override of one flag;
	// removing one that does not exist is not an error.
	DeleteUserOverride(ctx context.Context, user, flag string, c flagon.Change) error
}

// UserOverride is one user's server-side override of one flag.
type UserOverride struct {
	User string `json:"user"`
	Flag string `json:"flag"`
	flagon.Override
}

// MaxUserLen is the longest user name a UserOverride may have.
const MaxUserLen = 256

// Validate reports what makes o unfit for a UserOverrideStore, as
// flagon.FieldErrors: a user of 1 to MaxUserLen bytes, a valid flag key,
// and a value of a flag type. It does not check the flag's policy, which
// needs the flag: callers do (Policy.Check).
func (o *UserOverride) Validate() error {
	var errs flagon.FieldErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, &flagon.FieldError{Flag: o.Flag, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if o.User == "" || len(o.User) > MaxUserLen {
		add("user", "a user name of 1 to %d bytes is needed", MaxUserLen)
	}
	if !flagon.ValidKey(o.Flag) {
		add("flag", "invalid flag key %q", o.Flag)
	}
	if _, _, err := flagon.MarshalValue(o.Value); err != nil {
		add("value", "%v", err)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// A ShareTokenStore keeps the records of share links (MintShareToken), so
// that they can be listed and revoked. Every write appends its audit entry
// in a store that is also a flagon.AuditLog.
// flagontest.TestShareTokenStore checks any implementation, which must
// enforce ShareToken.Validate.
type ShareTokenStore interface {
	// CreateShareToken records a share link's token. A zero CreatedAt
	// becomes the time of the write, an empty CreatedBy the change's
	// actor.
	CreateShareToken(ctx context.Context, t ShareToken, c flagon.Change) error
	// ShareToken returns a token by ID, or flagon.ErrNotFound.
	ShareToken(ctx context.Context, id string) (ShareToken, error)
	// ShareTokens returns every token, newest first.
	ShareTokens(ctx context.Context) ([]ShareToken, error)
	// RevokeShareToken revokes a token; revoking a revoked token changes
	// nothing. An unknown ID is flagon.ErrNotFound.
	RevokeShareToken(ctx context.Context, id string, c flagon.Change) error
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

// MaxShareTokenIDLen is the longest share token ID a store accepts.
const MaxShareTokenIDLen = 256

// Validate reports what makes t unfit for a ShareTokenStore, as
// flagon.FieldErrors: an ID of 1 to MaxShareTokenIDLen bytes, a valid
// flag key, a value of a flag type and a duration that is not negative.
func (t *ShareToken) Validate() error {
	var errs flagon.FieldErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, &flagon.FieldError{Flag: t.Flag, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if t.ID == "" || len(t.ID) > MaxShareTokenIDLen {
		add("id", "a share token needs an ID of 1 to %d bytes", MaxShareTokenIDLen)
	}
	if !flagon.ValidKey(t.Flag) {
		add("flag", "invalid flag key %q", t.Flag)
	}
	if _, _, err := flagon.MarshalValue(t.Value); err != nil {
		add("value", "%v", err)
	}
	if t.Duration < 0 {
		add("duration", "negative duration %v", t.Duration)
	}
	if len(t.CreatedBy) > MaxUserLen {
		add("created_by", "more than %d bytes", MaxUserLen)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// tokenLookupTimeout bounds TokenRevokedIn's store read.
const tokenLookupTimeout = 5 * time.Second

// TokenRevokedIn returns a function for Options.TokenRevoked that asks
// store whether a share token was revoked. A token the store does not
// know is not revoked (it may have been minted without a store); lookup
// errors count as revoked, so that a store outage hands out no overrides.
func TokenRevokedIn(store ShareTokenStore) func(id string) bool {
	return func(id string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), tokenLookupTimeout)
		defer cancel()
		t, err := store.ShareToken(ctx, id)
		if errors.Is(err, flagon.ErrNotFound) {
			return false
		}
		return err != nil || t.Revoked
	}
}

// A KeyStore keeps a server's signing keys, so that every instance and
// every restart signs and verifies with the same ring (cookies, headers,
// share links, console sessions). Secrets are stored as given: a server
// that encrypts them at rest does so before AddSigningKey. Every write
// appends its audit entry, without the secret, in a store that is also a
// flagon.AuditLog. flagontest.TestKeyStore checks any implementation.
type KeyStore interface {
	// SigningKeys returns every key that is not retired, oldest first.
	SigningKeys(ctx context.Context) ([]StoredKey, error)
	// AddSigningKey adds a key; an ID in use, retired or not, is
	// flagon.ErrConflict.
	AddSigningKey(ctx context.Context, k StoredKey, c flagon.Change) error
	// RetireSigningKey retires a key: what it signed no longer verifies.
	// An unknown or retired ID is flagon.ErrNotFound.
	RetireSigningKey(ctx context.Context, id string, c flagon.Change) error
}

// StoredKey is a signing key as a KeyStore keeps it.
type StoredKey struct {
	ID     string `json:"id"`
	Secret []byte `json:"-"` // never in JSON, so never in an audit entry
	// ActiveFrom is when the key starts to sign; until then it only
	// verifies, so that every instance knows it before any uses it.
	ActiveFrom time.Time `json:"active_from"`
	CreatedAt  time.Time `json:"created_at"`
}

// MaxStoredSecretLen bounds a stored key's secret, which may be an
// encrypted form of the key.
const MaxStoredSecretLen = 1024

// Validate reports what makes k unfit for a KeyStore, as
// flagon.FieldErrors: an ID as Key requires, and a secret of 1 to
// MaxStoredSecretLen bytes. (The secret's own length is checked when the
// key is used, since a store may hold it encrypted.)
func (k *StoredKey) Validate() error {
	var errs flagon.FieldErrors
	if err := validKeyID(k.ID); err != nil {
		errs = append(errs, &flagon.FieldError{Field: "id", Msg: err.Error()})
	}
	if len(k.Secret) == 0 || len(k.Secret) > MaxStoredSecretLen {
		errs = append(errs, &flagon.FieldError{Field: "secret", Msg: fmt.Sprintf("want 1 to %d bytes", MaxStoredSecretLen)})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}
