package flagonhttp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
)

// MinSecretLen is the shortest signing secret NewKeys accepts, in bytes.
const MinSecretLen = 32

// maxKeyIDLen is the longest key ID: IDs travel in every cookie.
const maxKeyIDLen = 16

// A Key is one HMAC-SHA256 signing key. ID names it inside the cookies,
// headers and share tokens it signs, so that a key ring can tell which key
// to verify with.
//
// Key's String and LogValue methods show the ID only, never the secret.
type Key struct {
	ID     string // 1 to 16 characters: letters, digits, '-' or '_'
	Secret []byte // at least MinSecretLen bytes, random
}

// String returns the key's ID; the secret is never printed.
func (k Key) String() string { return "flagonhttp.Key{ID: " + k.ID + ", Secret: redacted}" }

// LogValue implements slog.LogValuer, logging the ID only.
func (k Key) LogValue() slog.Value { return slog.StringValue("key " + k.ID) }

// GenerateKey returns a key with the given ID and a random secret of
// MinSecretLen bytes.
func GenerateKey(id string) (Key, error) {
	k := Key{ID: id, Secret: make([]byte, MinSecretLen)}
	if err := validKeyID(id); err != nil {
		return Key{}, err
	}
	if _, err := rand.Read(k.Secret); err != nil {
		return Key{}, fmt.Errorf("flagonhttp: generate key: %w", err)
	}
	return k, nil
}

func validKeyID(id string) error {
	if id == "" || len(id) > maxKeyIDLen {
		return fmt.Errorf("flagonhttp: key ID %q: want 1 to %d characters", id, maxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("flagonhttp: key ID %q: use letters, digits, '-' or '_'", id)
		}
	}
	return nil
}

// Keys is a key ring. The first key signs; every key verifies. To rotate,
// put a new key first and keep the old one until everything it signed has
// expired (the longest override duration, or the longest share link),
// then drop it: what it signed is ignored from then on.
//
// A Keys is safe for concurrent use. Replace swaps its keys while it is
// in use, for a server that rotates keys without a restart. A nil *Keys
// stands for the per-process key (see Options.Keys).
type Keys struct {
	cur atomic.Pointer[[]*keyState]
}

// ring returns the keys, signing key first.
func (k *Keys) ring() []*keyState {
	if p := k.cur.Load(); p != nil {
		return *p
	}
	return nil
}

// keyState is one key with a pool of keyed HMACs, so that signing and
// verifying do not set up a fresh HMAC (three allocations) per request.
type keyState struct {
	id   string
	pool sync.Pool // of *macState
}

// macState is a keyed HMAC and scratch space for its sum.
type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
	sig [sha256.Size + 8]byte // a decoded signature
}

// NewKeys returns a key ring whose first key signs. IDs must be unique and
// secrets at least MinSecretLen bytes.
func NewKeys(keys ...Key) (*Keys, error) {
	k := &Keys{}
	if err := k.Replace(keys...); err != nil {
		return nil, err
	}
	return k, nil
}

// Replace makes keys the ring's keys, the first signing, as NewKeys
// would; what the old keys signed verifies only if they are among the
// new ones. On error the ring is unchanged.
func (k *Keys) Replace(keys ...Key) error {
	if len(keys) == 0 {
		return errors.New("flagonhttp: no keys")
	}
	var ring []*keyState
	seen := make(map[string]bool, len(keys))
	for i, key := range keys {
		if err := validKeyID(key.ID); err != nil {
			return fmt.Errorf("%w (key %d)", err, i)
		}
		if seen[key.ID] {
			return fmt.Errorf("flagonhttp: duplicate key ID %q", key.ID)
		}
		seen[key.ID] = true
		if len(key.Secret) < MinSecretLen {
			return fmt.Errorf("flagonhttp: key %q: secret is %d bytes, want at least %d", key.ID, len(key.Secret), MinSecretLen)
		}
		secret := append([]byte(nil), key.Secret...)
		ks := &keyState{id: key.ID}
		ks.pool.New = func() any { return &macState{h: hmac.New(sha256.New, secret)} }
		ring = append(ring, ks)
	}
	k.cur.Store(&ring)
	return nil
}

// MustKeys is NewKeys for keys known to be valid, as in tests and
// examples. It panics on error.
func MustKeys(keys ...Key) *Keys {
	k, err := NewKeys(keys...)
	if err != nil {
		panic(err)
	}
	return k
}

// ParseKeys parses a key ring written as comma-separated id:secret pairs,
// the secret in base64 (standard or URL alphabet, padded or not), signing
// key first: "k2:7Qn…,k1:Zx0…". Programs read it from an environment
// variable or a secret store.
func ParseKeys(s string) (*Keys, error) {
	var keys []Key
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		id, enc, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("flagonhttp: parse keys: entry %d: want id:base64-secret", i+1)
		}
		secret, err := decodeAnyBase64(enc)
		if err != nil {
			return nil, fmt.Errorf("flagonhttp: parse keys: key %q: secret is not base64", id)
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	return NewKeys(keys...)
}

func decodeAnyBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// SigningKeyID returns the ID of the key that signs.
func (k *Keys) SigningKeyID() string { return k.resolve().ring()[0].id }

// IDs returns the IDs of the keys in the ring, signing key first.
func (k *Keys) IDs() []string {
	ring := k.resolve().ring()
	ids := make([]string, len(ring))
	for i, ks := range ring {
		ids[i] = ks.id
	}
	return ids
}

// resolve returns k, or the per-process key ring when k is nil.
func (k *Keys) resolve() *Keys {
	if k == nil || len(k.ring()) == 0 {
		return processKeys()
	}
	return k
}

func (ks *keyState) get() *macState {
	m := ks.pool.Get().(*macState)
	m.h.Reset()
	return m
}

func (ks *keyState) put(m *macState) { ks.pool.Put(m) }

// mac returns HMAC-SHA256 of msg under ks; the result lives in m.
func (ks *keyState) mac(m *macState, msg []byte) []byte {
	m.h.Write(msg)
	return m.h.Sum(m.sum[:0])
}

// processKeys is the per-process key ring used when Options.Keys is nil:
// a random key, so that cookies are still signed, but do not survive a
// restart and are not shared between instances.
var processKeys = sync.OnceValue(func() *Keys {
	key, err := GenerateKey("process")
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(err)
	}
	return MustKeys(key)
})

// warnProcessKey logs, once per process, that no keys were configured.
var warnProcessKey sync.Once

func warnNoKeys(log *slog.Logger) {
	warnProcessKey.Do(func() {
		log.Warn("flagonhttp: no signing keys configured (Options.Keys); using a random per-process key: override cookies will not survive a restart and are not shared between instances")
	})
}
