package flagontest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// MemoryStore is a flagon.Store, flagon.AuditLog, flagon.UsageStore,
// flagon.UserStore, flagon.ScheduleStore, flagonhttp.UserOverrideStore and
// flagonhttp.ShareTokenStore held in memory, for tests and for programs
// that need a writable store without a database. It behaves as the SQL
// stores do, which TestStore checks: records are copied in and out
// through their JSON form, every write appends one audit entry and bumps
// the revision, and versions guard against lost updates.
//
// SetErr makes it fail like an unreachable database.
type MemoryStore struct {
	mu        sync.Mutex
	rev       int64
	flags     map[string]memFlag
	audiences map[string]memAudience
	overrides map[[2]string]memValue[flagonhttp.UserOverride]
	tokens    map[string]memValue[flagonhttp.ShareToken]
	keys      []memKey
	users     map[string]flagon.User
	schedules []flagon.ScheduledChange // by ID, which is index+1
	requests  []flagon.ChangeRequest   // by ID, which is index+1
	usage     map[usageKey]int64
	audit     []flagon.AuditEntry
	fail      error
	closed    bool
	hub       flagon.Notifier
	auditID   int64
}

type memFlag struct {
	data []byte // the flag's JSON
	meta flagon.StoredFlag
}

type memAudience struct {
	data []byte
	meta flagon.StoredAudience
}

// memValue is an override or share token with its value's type and JSON.
type memValue[T any] struct {
	rec  T // Value cleared
	typ  flagon.Type
	data []byte
}

// What a MemoryStore is.
var (
	_ flagon.Store                 = (*MemoryStore)(nil)
	_ flagon.AuditLog              = (*MemoryStore)(nil)
	_ flagonhttp.UserOverrideStore = (*MemoryStore)(nil)
	_ flagonhttp.ShareTokenStore   = (*MemoryStore)(nil)
	_ flagonhttp.KeyStore          = (*MemoryStore)(nil)
	_ flagon.UsageStore            = (*MemoryStore)(nil)
	_ flagon.UserStore             = (*MemoryStore)(nil)
	_ flagon.ScheduleStore         = (*MemoryStore)(nil)
)

// NewMemoryStore returns an empty store at revision 0.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		flags:     make(map[string]memFlag),
		audiences: make(map[string]memAudience),
		overrides: make(map[[2]string]memValue[flagonhttp.UserOverride]),
		tokens:    make(map[string]memValue[flagonhttp.ShareToken]),
		users:     make(map[string]flagon.User),
	}
}

// errMemClosed is returned after Close.
var errMemClosed = errors.New("memory store: closed")

// SetErr makes every method but Close and Watch fail with err, as a store
// whose database is unreachable does, until SetErr(nil).
func (m *MemoryStore) SetErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

// check returns the error every method must return now, if any. m.mu is
// held.
func (m *MemoryStore) check(op string) error {
	if m.closed {
		return fmt.Errorf("memory store: %s: %w", op, errMemClosed)
	}
	if m.fail != nil {
		return fmt.Errorf("memory store: %s: %w", op, m.fail)
	}
	return nil
}

func (m *MemoryStore) flag(key string) (flagon.StoredFlag, bool) {
	mf, ok := m.flags[key]
	if !ok {
		return flagon.StoredFlag{}, false
	}
	sf := mf.meta
	if err := flagon.UnmarshalFlag(mf.data, &sf.Flag); err != nil { // we encoded it
		panic(err)
	}
	return sf, true
}

func (m *MemoryStore) audience(name string) (flagon.StoredAudience, bool) {
	ma, ok := m.audiences[name]
	if !ok {
		return flagon.StoredAudience{}, false
	}
	sa := ma.meta
	if err := json.Unmarshal(ma.data, &sa.Audience); err != nil {
		panic(err)
	}
	return sa, true
}

func (m *MemoryStore) sortedAudiences() []flagon.StoredAudience {
	out := make([]flagon.StoredAudience, 0, len(m.audiences))
	for name := range m.audiences {
		a, _ := m.audience(name)
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b flagon.StoredAudience) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (m *MemoryStore) sortedFlags(liveOnly bool) []flagon.StoredFlag {
	out := make([]flagon.StoredFlag, 0, len(m.flags))
	for key, mf := range m.flags {
		if liveOnly && mf.meta.Archived {
			continue
		}
		f, _ := m.flag(key)
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b flagon.StoredFlag) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// memRecord is what one write changed, for its audit entry.
type memRecord struct {
	action, target string
	before, after  any
}

var errMemNoChange = errors.New("no change")

// write runs fn at the next revision and, if it succeeds, appends its
// audit entry and tells the watchers.
func (m *MemoryStore) write(op string, c flagon.Change, fn func(rev int64, now time.Time) (memRecord, error)) error {
	m.mu.Lock()
	if err := m.check(op); err != nil {
		m.mu.Unlock()
		return err
	}
	rev, now := m.rev+1, storeTime(time.Now())
	r, err := fn(rev, now)
	if errors.Is(err, errMemNoChange) {
		m.mu.Unlock()
		return nil
	}
	if err != nil {
		m.mu.Unlock()
		return fmt.Errorf("memory store: %s: %w", op, err)
	}
	e := flagon.AuditEntry{
		ID: m.nextAuditID(), Time: now, Actor: c.Actor, Action: r.action, Target: r.target,
		Environment: c.Environment, Reason: c.Reason, Revision: rev,
	}
	if r.before != nil {
		e.Before, _ = json.Marshal(r.before)
	}
	if r.after != nil {
		e.After, _ = json.Marshal(r.after)
	}
	m.audit = append(m.audit, e)
	m.rev = rev
	m.mu.Unlock()
	m.hub.Notify(rev)
	return nil
}

// Load implements flagon.Store.
func (m *MemoryStore) Load(ctx context.Context) (flagon.Definitions, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("load"); err != nil {
		return flagon.Definitions{}, 0, err
	}
	return m.load()
}

// load returns the live definitions and the revision. m.mu is held.
func (m *MemoryStore) load() (flagon.Definitions, int64, error) {
	defs := flagon.Definitions{Flags: []flagon.Flag{}}
	for _, a := range m.sortedAudiences() {
		defs.Audiences = append(defs.Audiences, a.Audience)
	}
	for _, f := range m.sortedFlags(true) {
		defs.Flags = append(defs.Flags, f.Flag)
	}
	return defs, m.rev, nil
}

// Revision implements flagon.Store.
func (m *MemoryStore) Revision(ctx context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("revision"); err != nil {
		return 0, err
	}
	return m.rev, nil
}

// Flags implements flagon.Store.
func (m *MemoryStore) Flags(ctx context.Context) ([]flagon.StoredFlag, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("list flags"); err != nil {
		return nil, err
	}
	return m.sortedFlags(false), nil
}

// Flag implements flagon.Store.
func (m *MemoryStore) Flag(ctx context.Context, key string) (flagon.StoredFlag, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("flag"); err != nil {
		return flagon.StoredFlag{}, err
	}
	f, ok := m.flag(key)
	if !ok {
		return f, fmt.Errorf("memory store: flag %q: %w", key, flagon.ErrNotFound)
	}
	return f, nil
}

// PutFlag implements flagon.Store.
func (m *MemoryStore) PutFlag(ctx context.Context, f flagon.Flag, version int64, c flagon.Change) (int64, error) {
	var newVersion int64
	err := m.write(fmt.Sprintf("put flag %q", f.Key), c, func(rev int64, now time.Time) (memRecord, error) {
		r, v, err := m.putFlag(f, version, now, c.Actor)
		newVersion = v
		return r, err
	})
	return newVersion, err
}

// putFlag is PutFlag's write: it returns the record and the new version.
// m.mu is held.
func (m *MemoryStore) putFlag(f flagon.Flag, version int64, now time.Time, actor string) (memRecord, int64, error) {
	old, exists := m.flag(f.Key)
	switch {
	case version == 0 && exists:
		return memRecord{}, 0, fmt.Errorf("%w: flag %q exists (version %d)", flagon.ErrConflict, f.Key, old.Version)
	case version != 0 && !exists:
		return memRecord{}, 0, fmt.Errorf("version %d given: %w", version, flagon.ErrNotFound)
	case exists && old.Version != version:
		return memRecord{}, 0, fmt.Errorf("%w: version %d given, flag %q is at version %d", flagon.ErrConflict, version, f.Key, old.Version)
	}
	defs := flagon.Definitions{Flags: []flagon.Flag{f}}
	for _, a := range m.sortedAudiences() {
		defs.Audiences = append(defs.Audiences, a.Audience)
	}
	if err := defs.Validate(); err != nil {
		return memRecord{}, 0, err
	}
	data, err := json.Marshal(f)
	if err != nil {
		return memRecord{}, 0, err
	}
	meta := flagon.StoredFlag{Version: version + 1, Archived: old.Archived, UpdatedAt: now, UpdatedBy: actor}
	m.flags[f.Key] = memFlag{data: data, meta: meta}
	after, _ := m.flag(f.Key)
	if exists {
		return memRecord{action: "flag.update", target: f.Key, before: old, after: after}, meta.Version, nil
	}
	return memRecord{action: "flag.create", target: f.Key, after: after}, meta.Version, nil
}

// ArchiveFlag implements flagon.Store.
func (m *MemoryStore) ArchiveFlag(ctx context.Context, key string, archived bool, version int64, c flagon.Change) (int64, error) {
	var newVersion int64
	op := "archive"
	if !archived {
		op = "restore"
	}
	err := m.write(fmt.Sprintf("%s flag %q", op, key), c, func(rev int64, now time.Time) (memRecord, error) {
		old, ok := m.flag(key)
		if !ok {
			return memRecord{}, flagon.ErrNotFound
		}
		if old.Version != version {
			return memRecord{}, fmt.Errorf("%w: version %d given, flag %q is at version %d", flagon.ErrConflict, version, key, old.Version)
		}
		if old.Archived == archived {
			newVersion = old.Version
			return memRecord{}, errMemNoChange
		}
		if !archived {
			defs := flagon.Definitions{Flags: []flagon.Flag{old.Flag}}
			for _, a := range m.sortedAudiences() {
				defs.Audiences = append(defs.Audiences, a.Audience)
			}
			if err := defs.Validate(); err != nil {
				return memRecord{}, err
			}
		}
		mf := m.flags[key]
		mf.meta.Archived, mf.meta.Version, mf.meta.UpdatedAt, mf.meta.UpdatedBy = archived, old.Version+1, now, c.Actor
		m.flags[key] = mf
		after, _ := m.flag(key)
		newVersion = after.Version
		return memRecord{action: "flag." + op, target: key, before: old, after: after}, nil
	})
	return newVersion, err
}

// Audiences implements flagon.Store.
func (m *MemoryStore) Audiences(ctx context.Context) ([]flagon.StoredAudience, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("list audiences"); err != nil {
		return nil, err
	}
	return m.sortedAudiences(), nil
}

// PutAudience implements flagon.Store.
func (m *MemoryStore) PutAudience(ctx context.Context, a flagon.Audience, version int64, c flagon.Change) (int64, error) {
	var newVersion int64
	err := m.write(fmt.Sprintf("put audience %q", a.Name), c, func(rev int64, now time.Time) (memRecord, error) {
		old, exists := m.audience(a.Name)
		switch {
		case version == 0 && exists:
			return memRecord{}, fmt.Errorf("%w: audience %q exists (version %d)", flagon.ErrConflict, a.Name, old.Version)
		case version != 0 && !exists:
			return memRecord{}, fmt.Errorf("version %d given: %w", version, flagon.ErrNotFound)
		case exists && old.Version != version:
			return memRecord{}, fmt.Errorf("%w: version %d given, audience %q is at version %d", flagon.ErrConflict, version, a.Name, old.Version)
		}
		defs := flagon.Definitions{Audiences: []flagon.Audience{a}}
		if err := defs.Validate(); err != nil {
			return memRecord{}, err
		}
		data, err := json.Marshal(a)
		if err != nil {
			return memRecord{}, err
		}
		m.audiences[a.Name] = memAudience{data: data, meta: flagon.StoredAudience{Version: version + 1, UpdatedAt: now}}
		after, _ := m.audience(a.Name)
		newVersion = after.Version
		if exists {
			return memRecord{action: "audience.update", target: a.Name, before: old, after: after}, nil
		}
		return memRecord{action: "audience.create", target: a.Name, after: after}, nil
	})
	return newVersion, err
}

// DeleteAudience implements flagon.Store.
func (m *MemoryStore) DeleteAudience(ctx context.Context, name string, version int64, c flagon.Change) error {
	return m.write(fmt.Sprintf("delete audience %q", name), c, func(rev int64, now time.Time) (memRecord, error) {
		old, ok := m.audience(name)
		if !ok {
			return memRecord{}, flagon.ErrNotFound
		}
		if old.Version != version {
			return memRecord{}, fmt.Errorf("%w: version %d given, audience %q is at version %d", flagon.ErrConflict, version, name, old.Version)
		}
		defs, _, _ := m.load()
		if err := defs.CheckAudienceDelete(name); err != nil {
			return memRecord{}, err
		}
		delete(m.audiences, name)
		return memRecord{action: "audience.delete", target: name, before: old}, nil
	})
}

func (m *MemoryStore) override(user, flag string) (flagonhttp.UserOverride, bool) {
	mv, ok := m.overrides[[2]string{user, flag}]
	if !ok {
		return flagonhttp.UserOverride{}, false
	}
	uo := mv.rec
	uo.Value, _ = flagon.UnmarshalValue(mv.typ, mv.data)
	return uo, true
}

// liveOverrides returns the overrides that match keep and have not
// expired, sorted by user and flag.
func (m *MemoryStore) liveOverrides(keep func(user string) bool) []flagonhttp.UserOverride {
	now := time.Now()
	var out []flagonhttp.UserOverride
	for k, mv := range m.overrides {
		if !keep(k[0]) || !mv.rec.ExpiresAt.IsZero() && !mv.rec.ExpiresAt.After(now) {
			continue
		}
		uo, _ := m.override(k[0], k[1])
		out = append(out, uo)
	}
	slices.SortFunc(out, func(a, b flagonhttp.UserOverride) int {
		if c := strings.Compare(a.User, b.User); c != 0 {
			return c
		}
		return strings.Compare(a.Flag, b.Flag)
	})
	return out
}

// UserOverrides implements flagonhttp.UserOverrideStore.
func (m *MemoryStore) UserOverrides(ctx context.Context, user string) (flagon.OverrideMap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(fmt.Sprintf("overrides of %q", user)); err != nil {
		return nil, err
	}
	out := make(flagon.OverrideMap)
	for _, uo := range m.liveOverrides(func(u string) bool { return u == user }) {
		out[uo.Flag] = uo.Override
	}
	return out, nil
}

// AllUserOverrides implements flagonhttp.UserOverrideStore.
func (m *MemoryStore) AllUserOverrides(ctx context.Context) ([]flagonhttp.UserOverride, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("list overrides"); err != nil {
		return nil, err
	}
	return m.liveOverrides(func(string) bool { return true }), nil
}

// SetUserOverride implements flagonhttp.UserOverrideStore.
func (m *MemoryStore) SetUserOverride(ctx context.Context, uo flagonhttp.UserOverride, c flagon.Change) error {
	user, flag := uo.User, uo.Flag
	return m.write(fmt.Sprintf("set override of %q for %q", flag, user), c, func(rev int64, now time.Time) (memRecord, error) {
		if err := uo.Validate(); err != nil {
			return memRecord{}, err
		}
		typ, data, _ := flagon.MarshalValue(uo.Value) // Validate checked it
		o := uo.Override
		o.Value, _ = flagon.UnmarshalValue(typ, data)
		if o.SetAt.IsZero() {
			o.SetAt = now
		}
		if o.Source == "" {
			o.Source = "user"
		}
		o.SetAt, o.ExpiresAt = storeTime(o.SetAt), storeTime(o.ExpiresAt)
		r := memRecord{action: "override.set", target: user}
		if old, ok := m.override(user, flag); ok {
			r.before = old
		}
		rec := flagonhttp.UserOverride{User: user, Flag: flag, Override: o}
		r.after = rec
		rec.Value = nil
		m.overrides[[2]string{user, flag}] = memValue[flagonhttp.UserOverride]{rec: rec, typ: typ, data: data}
		return r, nil
	})
}

// DeleteUserOverride implements flagonhttp.UserOverrideStore.
func (m *MemoryStore) DeleteUserOverride(ctx context.Context, user, flag string, c flagon.Change) error {
	return m.write(fmt.Sprintf("delete override of %q for %q", flag, user), c, func(rev int64, now time.Time) (memRecord, error) {
		old, ok := m.override(user, flag)
		if !ok {
			return memRecord{}, errMemNoChange
		}
		delete(m.overrides, [2]string{user, flag})
		return memRecord{action: "override.delete", target: user, before: old}, nil
	})
}

func (m *MemoryStore) token(id string) (flagonhttp.ShareToken, bool) {
	mv, ok := m.tokens[id]
	if !ok {
		return flagonhttp.ShareToken{}, false
	}
	t := mv.rec
	t.Value, _ = flagon.UnmarshalValue(mv.typ, mv.data)
	return t, true
}

// CreateShareToken implements flagonhttp.ShareTokenStore.
func (m *MemoryStore) CreateShareToken(ctx context.Context, t flagonhttp.ShareToken, c flagon.Change) error {
	return m.write(fmt.Sprintf("create share token for %q", t.Flag), c, func(rev int64, now time.Time) (memRecord, error) {
		if err := t.Validate(); err != nil {
			return memRecord{}, err
		}
		typ, data, _ := flagon.MarshalValue(t.Value) // Validate checked it
		t.Value, _ = flagon.UnmarshalValue(typ, data)
		if t.CreatedAt.IsZero() {
			t.CreatedAt = now
		}
		if t.CreatedBy == "" {
			t.CreatedBy = c.Actor
		}
		t.CreatedAt, t.ExpiresAt = storeTime(t.CreatedAt), storeTime(t.ExpiresAt)
		if _, ok := m.tokens[t.ID]; ok {
			return memRecord{}, fmt.Errorf("%w: share token exists", flagon.ErrConflict)
		}
		rec := t
		rec.Value = nil
		m.tokens[t.ID] = memValue[flagonhttp.ShareToken]{rec: rec, typ: typ, data: data}
		return memRecord{action: "share.create", target: t.ID, after: t}, nil
	})
}

// ShareToken implements flagonhttp.ShareTokenStore.
func (m *MemoryStore) ShareToken(ctx context.Context, id string) (flagonhttp.ShareToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("share token"); err != nil {
		return flagonhttp.ShareToken{}, err
	}
	t, ok := m.token(id)
	if !ok {
		return t, fmt.Errorf("memory store: share token: %w", flagon.ErrNotFound)
	}
	return t, nil
}

// ShareTokens implements flagonhttp.ShareTokenStore.
func (m *MemoryStore) ShareTokens(ctx context.Context) ([]flagonhttp.ShareToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("list share tokens"); err != nil {
		return nil, err
	}
	out := make([]flagonhttp.ShareToken, 0, len(m.tokens))
	for id := range m.tokens {
		t, _ := m.token(id)
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b flagonhttp.ShareToken) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// RevokeShareToken implements flagonhttp.ShareTokenStore.
func (m *MemoryStore) RevokeShareToken(ctx context.Context, id string, c flagon.Change) error {
	return m.write("revoke share token", c, func(rev int64, now time.Time) (memRecord, error) {
		old, ok := m.token(id)
		if !ok {
			return memRecord{}, flagon.ErrNotFound
		}
		if old.Revoked {
			return memRecord{}, errMemNoChange
		}
		mv := m.tokens[id]
		mv.rec.Revoked = true
		m.tokens[id] = mv
		after, _ := m.token(id)
		return memRecord{action: "share.revoke", target: id, before: old, after: after}, nil
	})
}

// Audit implements flagon.AuditLog.
func (m *MemoryStore) Audit(ctx context.Context, q flagon.AuditQuery) ([]flagon.AuditEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("audit"); err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = flagon.DefaultAuditLimit
	}
	var out []flagon.AuditEntry
	for i := len(m.audit) - 1; i >= 0 && len(out) < limit; i-- {
		e := m.audit[i]
		if q.Target != "" && e.Target != q.Target ||
			q.Actor != "" && e.Actor != q.Actor ||
			!q.Since.IsZero() && e.Time.Before(q.Since) ||
			!q.Until.IsZero() && !e.Time.Before(q.Until) {
			continue
		}
		e.Before, e.After = slices.Clone(e.Before), slices.Clone(e.After)
		out = append(out, e)
	}
	return out, nil
}

// AppendAudit implements flagon.AuditLog: the entry takes the current
// revision, which does not change, and watchers are not called.
func (m *MemoryStore) AppendAudit(ctx context.Context, e flagon.AuditEntry) error {
	if err := e.Validate(); err != nil {
		return fmt.Errorf("memory store: append audit: %w", err)
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = storeTime(e.Time)
	if len(e.Before) == 0 {
		e.Before = nil
	}
	if len(e.After) == 0 {
		e.After = nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("append audit"); err != nil {
		return err
	}
	e.ID, e.Revision = m.nextAuditID(), m.rev
	e.Before, e.After = slices.Clone(e.Before), slices.Clone(e.After)
	m.audit = append(m.audit, e)
	return nil
}

// memKey is a stored signing key.
type memKey struct {
	key     flagonhttp.StoredKey
	retired bool
}

// SigningKeys implements flagonhttp.KeyStore.
func (m *MemoryStore) SigningKeys(ctx context.Context) ([]flagonhttp.StoredKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("signing keys"); err != nil {
		return nil, err
	}
	var out []flagonhttp.StoredKey
	for _, mk := range m.keys {
		if !mk.retired {
			k := mk.key
			k.Secret = slices.Clone(k.Secret)
			out = append(out, k)
		}
	}
	return out, nil
}

// AddSigningKey implements flagonhttp.KeyStore.
func (m *MemoryStore) AddSigningKey(ctx context.Context, k flagonhttp.StoredKey, c flagon.Change) error {
	return m.write(fmt.Sprintf("add signing key %q", k.ID), c, func(rev int64, now time.Time) (memRecord, error) {
		if err := k.Validate(); err != nil {
			return memRecord{}, err
		}
		for _, mk := range m.keys {
			if mk.key.ID == k.ID {
				return memRecord{}, fmt.Errorf("%w: signing key %q exists", flagon.ErrConflict, k.ID)
			}
		}
		if k.CreatedAt.IsZero() {
			k.CreatedAt = now
		}
		if k.ActiveFrom.IsZero() {
			k.ActiveFrom = now
		}
		k.CreatedAt, k.ActiveFrom = storeTime(k.CreatedAt), storeTime(k.ActiveFrom)
		k.Secret = slices.Clone(k.Secret)
		m.keys = append(m.keys, memKey{key: k})
		slices.SortStableFunc(m.keys, func(a, b memKey) int {
			if c := a.key.CreatedAt.Compare(b.key.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(a.key.ID, b.key.ID)
		})
		return memRecord{action: "key.add", target: k.ID, after: k}, nil
	})
}

// RetireSigningKey implements flagonhttp.KeyStore.
func (m *MemoryStore) RetireSigningKey(ctx context.Context, id string, c flagon.Change) error {
	return m.write(fmt.Sprintf("retire signing key %q", id), c, func(rev int64, now time.Time) (memRecord, error) {
		for i, mk := range m.keys {
			if mk.key.ID == id && !mk.retired {
				m.keys[i].retired = true
				return memRecord{action: "key.retire", target: id, before: mk.key}, nil
			}
		}
		return memRecord{}, fmt.Errorf("signing key %q: %w", id, flagon.ErrNotFound)
	})
}

// PruneAudit implements flagon.AuditLog.
func (m *MemoryStore) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("prune audit"); err != nil {
		return 0, err
	}
	kept := m.audit[:0]
	for _, e := range m.audit {
		if !e.Time.Before(before) {
			kept = append(kept, e)
		}
	}
	n := int64(len(m.audit) - len(kept))
	m.audit = kept
	return n, nil
}

// nextAuditID returns the ID of the next audit entry. m.mu is held.
func (m *MemoryStore) nextAuditID() int64 {
	m.auditID++
	return m.auditID
}

// storeTime returns t as stores keep times: UTC, to the microsecond; the
// zero time stays zero.
func storeTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Round(time.Microsecond)
}

// Watch implements flagon.Store.
func (m *MemoryStore) Watch(ctx context.Context, fn func(revision int64)) error {
	if err := m.hub.Add(ctx, fn); err != nil {
		return fmt.Errorf("memory store: watch: %w", errMemClosed)
	}
	return nil
}

// Close implements io.Closer. Later calls fail; Close itself may be
// called again.
func (m *MemoryStore) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.hub.Close()
	return nil
}

// usageKey identifies one row of a MemoryStore's usage.
type usageKey struct {
	hour                            time.Time
	flag, variant, environment, app string
}

// AddUsage implements flagon.UsageStore.
func (m *MemoryStore) AddUsage(ctx context.Context, counts []flagon.UsageCount) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("add usage"); err != nil {
		return err
	}
	if err := flagon.ValidateUsage(counts); err != nil {
		return fmt.Errorf("memory store: add usage: %w", err)
	}
	if m.usage == nil {
		m.usage = make(map[usageKey]int64)
	}
	for _, c := range counts {
		m.usage[usageKey{c.Hour.UTC(), c.Flag, c.Variant, c.Environment, c.App}] += c.Count
	}
	return nil
}

// Usage implements flagon.UsageStore.
func (m *MemoryStore) Usage(ctx context.Context, q flagon.UsageQuery) ([]flagon.UsageCount, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("read usage"); err != nil {
		return nil, err
	}
	var out []flagon.UsageCount
	summed := map[usageKey]int{} // with Sum: the row of a flag, variant, environment and app
	for k, n := range m.usage {
		if (q.Flag != "" && k.flag != q.Flag) || (q.Environment != "" && k.environment != q.Environment) ||
			(q.App != "" && k.app != q.App) || (!q.Since.IsZero() && k.hour.Before(q.Since)) ||
			(!q.Until.IsZero() && !k.hour.Before(q.Until)) {
			continue
		}
		row := flagon.UsageCount{Hour: k.hour, Flag: k.flag, Variant: k.variant, Environment: k.environment, App: k.app, Count: n}
		if q.Sum {
			sk := k
			sk.hour = time.Time{}
			if i, ok := summed[sk]; ok {
				out[i].Count += n
				if k.hour.After(out[i].Hour) {
					out[i].Hour = k.hour
				}
				continue
			}
			summed[sk] = len(out)
		}
		out = append(out, row)
	}
	slices.SortFunc(out, func(a, b flagon.UsageCount) int {
		return cmp.Or(a.Hour.Compare(b.Hour), strings.Compare(a.Flag, b.Flag), strings.Compare(a.Variant, b.Variant),
			strings.Compare(a.Environment, b.Environment), strings.Compare(a.App, b.App))
	})
	return out, nil
}

// PruneUsage implements flagon.UsageStore.
func (m *MemoryStore) PruneUsage(ctx context.Context, before time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("prune usage"); err != nil {
		return 0, err
	}
	var n int64
	for k := range m.usage {
		if k.hour.Before(before) {
			delete(m.usage, k)
			n++
		}
	}
	return n, nil
}
