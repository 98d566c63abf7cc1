package flagontest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagonhttp"
)

// TestKeyStore checks that a flagonhttp.KeyStore keeps the interface's
// promises: keys come back as given (secrets byte for byte, times to the
// microsecond in UTC), oldest first; IDs are unique, retired ones
// included; retired keys are left out; invalid keys are refused with field
// errors; and no audit entry holds a secret. newStore must return a new,
// empty store each time.
func TestKeyStore(t *testing.T, newStore func(t *testing.T) flagonhttp.KeyStore) {
	s := openStore(t, newStore)
	ctx := t.Context()
	keys, err := s.SigningKeys(ctx)
	mustStore(t, err)
	if len(keys) != 0 {
		t.Fatalf("a new store has %d signing keys", len(keys))
	}
	base := time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)
	secret1 := bytes.Repeat([]byte{0xA1}, 32)
	secret2 := append(bytes.Repeat([]byte{0}, 40), 0xFF)
	k1 := flagonhttp.StoredKey{ID: "k1", Secret: secret1, ActiveFrom: base, CreatedAt: base}
	k2 := flagonhttp.StoredKey{ID: "k2", Secret: secret2, ActiveFrom: base.Add(time.Hour), CreatedAt: base.Add(time.Minute)}
	checkWrites(t, s, []recordWrite{
		{"add k2", func() error { return s.AddSigningKey(ctx, k2, changeBy("ann")) }, "key.add", "k2", false, true, true},
		{"add k1", func() error { return s.AddSigningKey(ctx, k1, changeBy("ann")) }, "key.add", "k1", false, true, true},
	})
	keys, err = s.SigningKeys(ctx)
	mustStore(t, err)
	if len(keys) != 2 || keys[0].ID != "k1" || keys[1].ID != "k2" {
		t.Fatalf("SigningKeys = %v, want k1 then k2 (oldest first)", keys)
	}
	for i, want := range []flagonhttp.StoredKey{k1, k2} {
		got := keys[i]
		if !bytes.Equal(got.Secret, want.Secret) || !got.ActiveFrom.Equal(want.ActiveFrom) || !got.CreatedAt.Equal(want.CreatedAt) || got.CreatedAt.Location() != time.UTC {
			t.Errorf("key %s = %+v, want %+v", want.ID, got, want)
		}
	}
	wantStoreErr(t, "adding k1 again", s.AddSigningKey(ctx, k1, changeBy("ann")), flagon.ErrConflict)
	for _, bad := range []flagonhttp.StoredKey{
		{ID: "", Secret: secret1},
		{ID: "has space", Secret: secret1},
		{ID: "k3"},
		{ID: "k3", Secret: bytes.Repeat([]byte{1}, flagonhttp.MaxStoredSecretLen+1)},
	} {
		wantFieldErrors(t, "AddSigningKey("+bad.ID+")", s.AddSigningKey(ctx, bad, changeBy("ann")))
	}
	// A key with no times gets the time of the write for both.
	before := time.Now()
	mustStore(t, s.AddSigningKey(ctx, flagonhttp.StoredKey{ID: "k3", Secret: secret1}, changeBy("ann")))
	keys, err = s.SigningKeys(ctx)
	mustStore(t, err)
	if k := keys[len(keys)-1]; k.ID != "k3" || k.CreatedAt.Before(before.Add(-time.Microsecond)) || !k.ActiveFrom.Equal(k.CreatedAt) {
		t.Errorf("k3 = %+v, want created and active at the time of the write", k)
	}

	checkWrites(t, s, []recordWrite{
		{"retire k1", func() error { return s.RetireSigningKey(ctx, "k1", changeBy("ann")) }, "key.retire", "k1", true, false, true},
	})
	keys, err = s.SigningKeys(ctx)
	mustStore(t, err)
	if len(keys) != 2 || keys[0].ID != "k2" {
		t.Errorf("after retiring k1: %v, want k2 and k3", keys)
	}
	wantStoreErr(t, "retiring k1 again", s.RetireSigningKey(ctx, "k1", changeBy("ann")), flagon.ErrNotFound)
	wantStoreErr(t, "reusing k1's ID", s.AddSigningKey(ctx, k1, changeBy("ann")), flagon.ErrConflict)

	if log, ok := s.(flagon.AuditLog); ok {
		es, err := log.Audit(ctx, flagon.AuditQuery{Limit: 100})
		mustStore(t, err)
		for _, e := range es {
			for _, raw := range []json.RawMessage{e.Before, e.After} {
				if bytes.Contains(raw, []byte("oaGhoaGh")) || strings.Contains(string(raw), "secret") {
					t.Errorf("audit entry %s %s holds the secret: %s", e.Action, e.Target, raw)
				}
			}
		}
	}
}
