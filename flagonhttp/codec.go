package flagonhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flagon/flagon"
)

// DefaultCookieName is the name of the override cookie.
const DefaultCookieName = "flagon_overrides"

// DefaultMaxCookieSize is the longest override cookie value read or
// written, in bytes: browsers keep no more than 4096 bytes per cookie.
const DefaultMaxCookieSize = 4096

// SecureMode says when the override cookie carries the Secure attribute.
type SecureMode int

// For reports whether a cookie set in answer to r is marked Secure.
func (m SecureMode) For(r *http.Request) bool {
	switch m {
	case SecureAlways:
		return true
	case SecureAuto:
		return r != nil && r.TLS != nil
	}
	return false
}

// The secure modes. The zero value is SecureAuto.
const (
	// SecureAuto marks the cookie Secure when the request came over TLS.
	// Behind a proxy that terminates TLS, use SecureAlways.
	SecureAuto SecureMode = iota
	// SecureAlways always marks the cookie Secure.
	SecureAlways
	// SecureNever never marks it Secure, for plain-HTTP development.
	SecureNever
)

// EntryStatus says whether an override entry read from a cookie applies,
// and if not, why.
type EntryStatus string

// The entry statuses.
const (
	EntryActive  EntryStatus = "active"  // it applies
	EntryExpired EntryStatus = "expired" // its time is up
	EntryStale   EntryStatus = "stale"   // the flag no longer exists
	EntryInvalid EntryStatus = "invalid" // the value is not of the flag's type, or the policy does not allow it
	EntryRefused EntryStatus = "refused" // the flag's policy is none: it may not be overridden
)

// An Entry is one override as the cookie holds it: a flag, a value, when it
// was set and when it lapses.
type Entry struct {
	Flag  string `json:"flag"`
	Value any    `json:"value"` // of the flag's type: bool, string, int64, float64 or map[string]any
	// SetAt is when the override was set; Encode fills in now when zero.
	SetAt time.Time `json:"setAt"`
	// ExpiresAt is when it lapses. Zero means as long as the flag's policy
	// allows (its maximum duration after SetAt); reading never lets an
	// entry outlive that maximum.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`

	// Status and Problem are filled in by Codec.Read: whether the entry
	// applies to the current flags, and if not, why, in words.
	Status  EntryStatus `json:"status,omitempty"`
	Problem string      `json:"problem,omitempty"`
}

// A Codec reads and writes the signed override cookie. The zero value
// uses the per-process key (see Options.Keys) and the defaults below; a
// Codec needs no request to encode or decode, so tests can mint cookies.
//
// The cookie's value is
//
//	1.<key ID>.<base64url(JSON)>.<base64url(HMAC-SHA256)>
//
// where the JSON is {"<flag>": {"value": V, "setAt": <Unix s>, "expiresAt": <Unix s>}, …};
// docs/decisions/0003-override-cookie.md describes it in full.
type Codec struct {
	Keys    *Keys      // nil: the per-process key
	Name    string     // cookie name; empty means DefaultCookieName
	Path    string     // cookie path; empty means "/"
	Domain  string     // cookie domain; empty means the request's host only
	Secure  SecureMode // when to mark the cookie Secure
	MaxSize int        // longest value read or written; zero means DefaultMaxCookieSize

	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
}

func (c *Codec) name() string {
	if c.Name == "" {
		return DefaultCookieName
	}
	return c.Name
}

func (c *Codec) maxSize() int {
	if c.MaxSize <= 0 {
		return DefaultMaxCookieSize
	}
	return c.MaxSize
}

func (c *Codec) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Encode returns the signed cookie value holding entries. Entries are
// written sorted by flag; a zero SetAt becomes now. It fails on an invalid
// or repeated flag key, a value JSON cannot hold, or a result longer than
// MaxSize (ErrTooLarge).
func (c *Codec) Encode(entries []Entry) (string, error) {
	payload, err := encodePayload(entries, c.now())
	if err != nil {
		return "", fmt.Errorf("flagonhttp: encode cookie: %w", err)
	}
	v := seal(c.Keys, purposeCookie, b64.EncodeToString(payload))
	if len(v) > c.maxSize() {
		return "", fmt.Errorf("flagonhttp: encode cookie: %d overrides take %d bytes, more than %d: %w", len(entries), len(v), c.maxSize(), ErrTooLarge)
	}
	return v, nil
}

// encodePayload writes the JSON payload of a cookie or header.
func encodePayload(entries []Entry, now time.Time) ([]byte, error) {
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b Entry) int { return strings.Compare(a.Flag, b.Flag) })
	b := make([]byte, 0, 64*len(sorted)+2)
	b = append(b, '{')
	for i, e := range sorted {
		if !flagon.ValidKey(e.Flag) {
			return nil, fmt.Errorf("invalid flag key %q", e.Flag)
		}
		if i > 0 {
			if sorted[i-1].Flag == e.Flag {
				return nil, fmt.Errorf("flag %q appears twice", e.Flag)
			}
			b = append(b, ',')
		}
		val, err := json.Marshal(e.Value)
		if err != nil {
			return nil, fmt.Errorf("flag %q: value: %w", e.Flag, err)
		}
		setAt := e.SetAt
		if setAt.IsZero() {
			setAt = now
		}
		b = append(b, '"')
		b = append(b, e.Flag...)
		b = append(b, `":{"value":`...)
		b = append(b, val...)
		b = append(b, `,"setAt":`...)
		b = strconv.AppendInt(b, max(setAt.Unix(), 1), 10)
		if !e.ExpiresAt.IsZero() {
			b = append(b, `,"expiresAt":`...)
			b = strconv.AppendInt(b, max(e.ExpiresAt.Unix(), 1), 10)
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// Decode verifies a cookie value and returns its entries as written,
// sorted by flag, with values as encoding/json decodes them with UseNumber
// (numbers are json.Number). It checks neither the flags nor the time;
// Read does. The error wraps ErrTooLarge, ErrMalformed, ErrUnknownVersion,
// ErrUnknownKey or ErrBadSignature.
func (c *Codec) Decode(value string) ([]Entry, error) {
	payload, err := c.open(value, nil)
	if err != nil {
		return nil, fmt.Errorf("flagonhttp: decode cookie: %w", err)
	}
	wire, err := decodePayload(payload)
	if err != nil {
		return nil, fmt.Errorf("flagonhttp: decode cookie: %w", err)
	}
	out := make([]Entry, 0, len(wire))
	for _, w := range wire {
		v, _ := decodeValue(w.Value)
		out = append(out, Entry{Flag: w.flag, Value: v, SetAt: unixTime(w.SetAt), ExpiresAt: unixTime(w.ExpiresAt)})
	}
	return out, nil
}

// maxClockSkew is how far in the future an override's set time may lie
// (the clock of the instance that set it may run ahead); an entry set
// later than that is refused.
const maxClockSkew = time.Minute

// wireEntry is one entry of a cookie or header payload, as its JSON holds
// it: {"value": V, "setAt": <Unix s>, "expiresAt": <Unix s>}. Unknown
// fields are ignored, so that later versions may add some.
type wireEntry struct {
	flag      string          // the object member's name
	Value     json.RawMessage `json:"value"`
	SetAt     int64           `json:"setAt"`
	ExpiresAt int64           `json:"expiresAt"`
}

// decodePayload decodes a payload, a JSON object of flag keys to entries,
// into entries sorted by flag. It fails with ErrMalformed on anything
// else, and on negative times.
func decodePayload(payload []byte) ([]wireEntry, error) {
	var m map[string]wireEntry
	if err := json.Unmarshal(payload, &m); err != nil || m == nil {
		return nil, ErrMalformed
	}
	out := make([]wireEntry, 0, len(m))
	for k, w := range m {
		if w.SetAt < 0 || w.ExpiresAt < 0 {
			return nil, ErrMalformed
		}
		w.flag = k
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b wireEntry) int { return strings.Compare(a.flag, b.flag) })
	return out, nil
}

// decodeValue returns the Go value of a JSON value as encoding/json
// decodes it with UseNumber: bool, string, json.Number, map[string]any,
// []any or nil.
func decodeValue(raw []byte) (any, bool) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

// open verifies a cookie value and returns its decoded JSON payload,
// using buf if it is large enough.
func (c *Codec) open(value string, buf []byte) ([]byte, error) {
	body, scratch, err := open(c.Keys, purposeCookie, value, c.maxSize(), buf)
	if err != nil {
		return nil, err
	}
	return decodeBody(scratch, body)
}

func unixTime(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0)
}

// Read returns the entries of the request's override cookie, sorted by
// flag, each marked with its status against snap: active, expired, stale
// (the flag is gone), invalid or refused, so that a page can show which
// overrides apply and highlight the others. Values of active entries are
// canonical; others are as written. Expiry is the policy's: never later
// than the flag's maximum duration after the entry was set.
//
// Without a cookie, Read returns nil and no error. A cookie that fails
// verification gives an error wrapping the reason (see Decode).
func (c *Codec) Read(r *http.Request, snap *flagon.Snapshot) ([]Entry, error) {
	cookies := r.CookiesNamed(c.name())
	if len(cookies) == 0 {
		if v, ok := cookieValue(r.Header, c.name()); ok {
			cookies = []*http.Cookie{{Name: c.name(), Value: v}}
		}
	}
	var firstErr error
	for _, ck := range cookies {
		payload, err := c.open(ck.Value, nil)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("flagonhttp: read cookie %s: %w", c.name(), err)
			}
			continue
		}
		return judgeAll(payload, newSnapInfo(snap), c.now())
	}
	return nil, firstErr
}

// judgeAll reads a payload into entries marked with their status.
func judgeAll(payload []byte, si *snapInfo, now time.Time) ([]Entry, error) {
	wire, err := decodePayload(payload)
	if err != nil {
		return nil, fmt.Errorf("flagonhttp: read cookie: %w", err)
	}
	out := make([]Entry, 0, len(wire))
	for i := range wire {
		w := &wire[i]
		ent := Entry{Flag: w.flag, SetAt: unixTime(w.SetAt), ExpiresAt: unixTime(w.ExpiresAt)}
		fi := si.flags[w.flag]
		v, exp, st := fi.judge(w, now.Unix())
		ent.Status = st
		if fi != nil && st != EntryInvalid {
			ent.ExpiresAt = unixTime(exp)
		}
		if v != nil {
			ent.Value = v
		} else {
			ent.Value, _ = decodeValue(w.Value)
		}
		switch {
		case st == EntryStale:
			ent.Problem = "flag " + strconv.Quote(w.flag) + " no longer exists"
		case st == EntryRefused:
			ent.Problem = "flag " + strconv.Quote(w.flag) + " may not be overridden"
		case st == EntryInvalid && w.future(now.Unix()):
			ent.Problem = "set in the future, at " + ent.SetAt.UTC().Format(time.RFC3339)
		case st == EntryInvalid:
			ent.Problem = fmt.Sprintf("value %s is not a %s value that flag %q allows", w.Value, fi.typ, w.flag)
		case st == EntryExpired:
			ent.Problem = "expired " + ent.ExpiresAt.UTC().Format(time.RFC3339)
		}
		out = append(out, ent)
	}
	return out, nil
}

// future reports whether the entry claims to have been set later than
// Unix time now allows, clock skew included.
func (w *wireEntry) future(now int64) bool {
	return w.SetAt > now+int64(maxClockSkew/time.Second)
}

// judge decides whether a cookie entry applies to flag fi (nil when the
// snapshot has no such flag) at Unix time now. It returns the canonical
// value and the effective expiry when it can tell them. An entry set in
// the future is invalid.
func (fi *flagInfo) judge(w *wireEntry, now int64) (v any, exp int64, st EntryStatus) {
	if fi == nil {
		return nil, 0, EntryStale
	}
	if fi.who == flagon.WhoNone {
		return nil, 0, EntryRefused
	}
	if w.future(now) {
		return nil, 0, EntryInvalid
	}
	v, i, ok := fi.fromJSON(w.Value)
	if !ok || !fi.permits(i) {
		return nil, 0, EntryInvalid
	}
	exp = fi.expiry(w.SetAt, w.ExpiresAt)
	if now >= exp {
		return v, exp, EntryExpired
	}
	return v, exp, EntryActive
}

// Cookie returns the override cookie holding entries, ready for
// http.SetCookie or, in tests, Request.AddCookie. Entries that have
// expired, and entries Read marked as not active, are left out; with none
// left, it returns the cookie that deletes the override cookie. r, which
// may be nil, tells whether the request came over TLS (see SecureMode).
func (c *Codec) Cookie(r *http.Request, entries []Entry) (*http.Cookie, error) {
	now := c.now()
	keep := make([]Entry, 0, len(entries))
	var last time.Time
	for _, e := range entries {
		if e.Status != "" && e.Status != EntryActive {
			continue
		}
		if !e.ExpiresAt.IsZero() && !e.ExpiresAt.After(now) {
			continue
		}
		end := e.ExpiresAt
		if end.IsZero() {
			set := e.SetAt
			if set.IsZero() {
				set = now
			}
			end = set.Add(flagon.DefaultOverrideMaxDuration)
		}
		if end.After(last) {
			last = end
		}
		keep = append(keep, e)
	}
	if len(keep) == 0 {
		return c.deletion(r), nil
	}
	v, err := c.Encode(keep)
	if err != nil {
		return nil, err
	}
	ck := c.base(r)
	ck.Value = v
	secs := math.Ceil(last.Sub(now).Seconds())
	ck.MaxAge = int(max(secs, 1))
	ck.Expires = now.Add(time.Duration(ck.MaxAge) * time.Second).UTC()
	return ck, nil
}

// Write sets the override cookie holding entries on w, or deletes it when
// no entry is left (see Cookie).
func (c *Codec) Write(w http.ResponseWriter, r *http.Request, entries []Entry) error {
	ck, err := c.Cookie(r, entries)
	if err != nil {
		return err
	}
	http.SetCookie(w, ck)
	return nil
}

// Delete deletes the override cookie: it sets it empty with Max-Age -1.
func (c *Codec) Delete(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, c.deletion(r))
}

func (c *Codec) deletion(r *http.Request) *http.Cookie {
	ck := c.base(r)
	ck.MaxAge = -1
	ck.Expires = time.Unix(1, 0).UTC()
	return ck
}

func (c *Codec) base(r *http.Request) *http.Cookie {
	path := c.Path
	if path == "" {
		path = "/"
	}
	return &http.Cookie{
		Name:     c.name(),
		Path:     path,
		Domain:   c.Domain,
		HttpOnly: true,
		Secure:   c.Secure.For(r),
		SameSite: http.SameSiteLaxMode,
	}
}

// cookieValue returns the raw value of the first cookie with the given
// name in the request's Cookie headers, without allocating. Unlike
// Request.Cookie it keeps values that are not valid cookie-octets, such as
// the JSON of the legacy feature_flags cookie.
func cookieValue(h http.Header, name string) (string, bool) {
	for _, line := range h["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimLeft(part, " \t")
			if len(part) > len(name) && part[len(name)] == '=' && part[:len(name)] == name {
				v := strings.TrimRight(part[len(name)+1:], " \t")
				if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				return v, true
			}
		}
	}
	return "", false
}
