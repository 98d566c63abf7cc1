package server

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// DefaultKeyRefresh is how often a server rereads the signing keys kept in
// its store, so that a key added by `flagon keys rotate` on any instance
// is known everywhere before it starts to sign.
const DefaultKeyRefresh = 15 * time.Second

// DefaultKeyActivation is how long after `flagon keys rotate` the new key
// starts to sign: long enough for every instance to have read it.
const DefaultKeyActivation = 4 * DefaultKeyRefresh

// Keyring is the signing key ring of `flagon serve`: the override cookie,
// the signed header, share links, and the console's sessions and form
// tokens all verify with it. Its keys come from configuration
// (FLAGON_COOKIE_KEYS) or from the store, where the first start generates
// one and every later start, and every other instance, reads it.
//
// Of the stored keys, the one that signs is the newest whose ActiveFrom
// has come; the others verify until they are retired.
type Keyring struct {
	keys    *flagonhttp.Keys
	store   flagonhttp.KeyStore // nil when configured
	box     *SecretBox          // nil: secrets stored in the clear
	log     *slog.Logger
	refresh time.Duration

	mu      sync.Mutex
	current []flagonhttp.StoredKey // decrypted
	ids     []string               // of the ring in use, signing key first
	cancel  context.CancelFunc
	done    chan struct{}
}

// KeyringOptions configures OpenKeyring. The zero value keeps keys in the
// clear and refreshes them every DefaultKeyRefresh.
type KeyringOptions struct {
	// Configured, if set, is the key ring itself, "id:secret,…", and the
	// store is not used.
	Configured string
	// Box, if set, encrypts secrets before they are stored and decrypts
	// them when read (FLAGON_KEY_ENCRYPTION_KEY).
	Box *SecretBox
	// Refresh is how often stored keys are reread; zero means
	// DefaultKeyRefresh.
	Refresh time.Duration
	// Logger receives key changes and errors; nil means slog.Default().
	Logger *slog.Logger
}

// OpenKeyring returns the key ring that opts configure, or that st keeps,
// generating the first key if st has none. Stored keys are reread until
// Close.
func OpenKeyring(ctx context.Context, st flagonhttp.KeyStore, opts *KeyringOptions) (*Keyring, error) {
	if opts == nil {
		opts = &KeyringOptions{}
	}
	k := &Keyring{box: opts.Box, log: opts.Logger, refresh: opts.Refresh, done: make(chan struct{})}
	if k.log == nil {
		k.log = slog.Default()
	}
	if k.refresh <= 0 {
		k.refresh = DefaultKeyRefresh
	}
	if opts.Configured != "" {
		keys, err := flagonhttp.ParseKeys(opts.Configured)
		if err != nil {
			return nil, fmt.Errorf("signing keys: %w", err)
		}
		k.keys = keys
		close(k.done)
		return k, nil
	}
	k.store = st
	stored, err := k.read(ctx)
	if err != nil {
		return nil, err
	}
	if len(stored) == 0 {
		if _, err := AddSigningKey(ctx, st, opts.Box, time.Time{}, flagon.Change{Actor: "flagon serve", Reason: "the first signing key of a new store"}); err != nil && !errors.Is(err, flagon.ErrConflict) {
			return nil, fmt.Errorf("signing keys: %w", err)
		}
		if stored, err = k.read(ctx); err != nil {
			return nil, err
		}
		k.log.Info("flagon: generated the first signing key and kept it in the store", "key", stored[0].ID)
	}
	k.keys = &flagonhttp.Keys{}
	if err := k.apply(stored, time.Now()); err != nil {
		return nil, err
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	k.cancel = cancel
	go k.run(bg)
	return k, nil
}

// Keys returns the ring, to give flagonhttp.Options.Keys and
// admin.PasswordOptions.Keys. It stays the same value while its keys
// change.
func (k *Keyring) Keys() *flagonhttp.Keys { return k.keys }

// Close stops rereading the store.
func (k *Keyring) Close() error {
	if k.cancel != nil {
		k.cancel()
	}
	<-k.done
	return nil
}

// read returns the stored keys, decrypted.
func (k *Keyring) read(ctx context.Context) ([]flagonhttp.StoredKey, error) {
	stored, err := k.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	for i := range stored {
		if stored[i].Secret, err = k.box.open(stored[i].Secret); err != nil {
			return nil, fmt.Errorf("signing key %q: %w", stored[i].ID, err)
		}
	}
	return stored, nil
}

// run rereads the store, and recomputes which key signs as keys become
// active, until ctx is done.
func (k *Keyring) run(ctx context.Context) {
	defer close(k.done)
	t := time.NewTicker(k.refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			rctx, cancel := context.WithTimeout(ctx, k.refresh)
			stored, err := k.read(rctx)
			cancel()
			if err != nil {
				k.log.Warn("flagon: reread signing keys; keeping the ones in use", "err", err)
				k.mu.Lock()
				stored = k.current
				k.mu.Unlock()
			}
			if err := k.apply(stored, now); err != nil {
				k.log.Error("flagon: signing keys", "err", err)
			}
		}
	}
}

// apply makes stored the ring's keys as of now: the newest active key
// signs.
func (k *Keyring) apply(stored []flagonhttp.StoredKey, now time.Time) error {
	if len(stored) == 0 {
		return errors.New("signing keys: every key is retired; add one with flagon keys rotate")
	}
	ring := orderKeys(stored, now)
	keys := make([]flagonhttp.Key, len(ring))
	ids := make([]string, len(ring))
	for i, sk := range ring {
		keys[i] = flagonhttp.Key{ID: sk.ID, Secret: sk.Secret}
		ids[i] = sk.ID
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if slices.Equal(ids, k.ids) {
		k.current = stored
		return nil
	}
	if err := k.keys.Replace(keys...); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if k.ids != nil {
		k.log.Info("flagon: signing keys changed", "signing", ids[0], "verifying", strings.Join(ids[1:], ","))
	}
	k.current, k.ids = stored, ids
	return nil
}

// orderKeys returns stored with the key that signs as of now first: the
// one with the latest ActiveFrom that has come (the oldest key if none
// has), then the others, newest first.
func orderKeys(stored []flagonhttp.StoredKey, now time.Time) []flagonhttp.StoredKey {
	out := slices.Clone(stored)
	slices.SortStableFunc(out, func(a, b flagonhttp.StoredKey) int {
		if c := b.ActiveFrom.Compare(a.ActiveFrom); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	for i, sk := range out {
		if !sk.ActiveFrom.After(now) {
			signer := out[i]
			copy(out[1:i+1], out[:i])
			out[0] = signer
			return out
		}
	}
	// None active yet: the one that became active first.
	last := out[len(out)-1]
	copy(out[1:], out[:len(out)-1])
	out[0] = last
	return out
}

// AddSigningKey generates a key, stores it (encrypted with box, if any)
// to become the signing key at activeFrom (zero: at once), and returns its
// ID. `flagon keys rotate` calls it.
func AddSigningKey(ctx context.Context, st flagonhttp.KeyStore, box *SecretBox, activeFrom time.Time, c flagon.Change) (string, error) {
	var id [4]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	key, err := flagonhttp.GenerateKey("k" + hex.EncodeToString(id[:]))
	if err != nil {
		return "", err
	}
	sealed, err := box.seal(key.Secret)
	if err != nil {
		return "", err
	}
	if err := st.AddSigningKey(ctx, flagonhttp.StoredKey{ID: key.ID, Secret: sealed, ActiveFrom: activeFrom}, c); err != nil {
		return "", err
	}
	return key.ID, nil
}

// A SecretBox encrypts secrets at rest with AES-256-GCM under a key that
// the server is given (FLAGON_KEY_ENCRYPTION_KEY) and the store never
// sees. A nil *SecretBox stores secrets in the clear. Stored secrets
// start with a byte that says which: 0 clear, 1 sealed.
type SecretBox struct {
	aead cipher.AEAD
}

// NewSecretBox returns a box for a 32-byte key, given in base64.
func NewSecretBox(key string) (*SecretBox, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(key))
	if err != nil {
		raw, err = base64.RawURLEncoding.DecodeString(strings.TrimSpace(key))
	}
	if err != nil || len(raw) != 32 {
		return nil, errors.New("key encryption key: want 32 bytes in base64 (openssl rand -base64 32)")
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &SecretBox{aead: aead}, nil
}

const (
	secretClear  = 0
	secretSealed = 1
)

func (b *SecretBox) seal(secret []byte) ([]byte, error) {
	if b == nil {
		return append([]byte{secretClear}, secret...), nil
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte{secretSealed}, nonce...)
	return b.aead.Seal(out, nonce, secret, []byte("flagon signing key")), nil
}

func (b *SecretBox) open(stored []byte) ([]byte, error) {
	if len(stored) == 0 {
		return nil, errors.New("empty secret")
	}
	switch stored[0] {
	case secretClear:
		return stored[1:], nil
	case secretSealed:
		if b == nil {
			return nil, errors.New("the secret is encrypted: set FLAGON_KEY_ENCRYPTION_KEY")
		}
		n := b.aead.NonceSize()
		if len(stored) < 1+n {
			return nil, errors.New("encrypted secret too short")
		}
		plain, err := b.aead.Open(nil, stored[1:1+n], stored[1+n:], []byte("flagon signing key"))
		if err != nil {
			return nil, errors.New("cannot decrypt the secret: wrong FLAGON_KEY_ENCRYPTION_KEY?")
		}
		return plain, nil
	}
	return nil, fmt.Errorf("unknown secret form %d", stored[0])
}

// KeyState is a stored signing key as `flagon keys list` shows it.
type KeyState struct {
	ID         string    `json:"id"`
	State      string    `json:"state"` // "signing", "verifying", or "pending" until ActiveFrom
	ActiveFrom time.Time `json:"active_from"`
	CreatedAt  time.Time `json:"created_at"`
}

// DescribeKeys says what each stored key does as of now: one signs, the
// others verify, and those whose ActiveFrom has not come are pending
// (they verify already, and will sign).
func DescribeKeys(stored []flagonhttp.StoredKey, now time.Time) []KeyState {
	if len(stored) == 0 {
		return nil
	}
	ring := orderKeys(stored, now)
	out := make([]KeyState, len(ring))
	for i, k := range ring {
		state := "verifying"
		switch {
		case i == 0:
			state = "signing"
		case k.ActiveFrom.After(now):
			state = "pending"
		}
		out[i] = KeyState{ID: k.ID, State: state, ActiveFrom: k.ActiveFrom, CreatedAt: k.CreatedAt}
	}
	return out
}
