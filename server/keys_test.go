package server_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagontest"
	"github.com/flagon/flagon/server"
)

const kek = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes, base64

// TestKeyringEncryptedAtRest: with a key encryption key, the store holds
// only sealed secrets, and a server without the key (or with another)
// refuses to start rather than sign with something else.
func TestKeyringEncryptedAtRest(t *testing.T) {
	st := flagontest.NewMemoryStore()
	box, err := server.NewSecretBox(kek)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := server.OpenKeyring(t.Context(), st, &server.KeyringOptions{Box: box, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	sealed := ring.Keys().Seal("test", []byte("payload"))
	ring.Close()

	stored, err := st.SigningKeys(t.Context())
	if err != nil || len(stored) != 1 {
		t.Fatalf("stored keys: %d, %v; want 1", len(stored), err)
	}
	if s := stored[0].Secret; s[0] != 1 || len(s) < 1+12+32+16 {
		t.Errorf("stored secret %x: want the sealed form (1, nonce, ciphertext, tag)", s)
	}

	if _, err := server.OpenKeyring(t.Context(), st, &server.KeyringOptions{Logger: quiet}); err == nil || !strings.Contains(err.Error(), "FLAGON_KEY_ENCRYPTION_KEY") {
		t.Errorf("OpenKeyring without the key encryption key: %v; want an error naming FLAGON_KEY_ENCRYPTION_KEY", err)
	}
	other, _ := server.NewSecretBox(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if _, err := server.OpenKeyring(t.Context(), st, &server.KeyringOptions{Box: other, Logger: quiet}); err == nil {
		t.Error("OpenKeyring with another key encryption key succeeded")
	}
	again, err := server.OpenKeyring(t.Context(), st, &server.KeyringOptions{Box: box, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got, err := again.Keys().Open("test", sealed, 1<<10); err != nil || string(got) != "payload" {
		t.Errorf("a value sealed before the restart: %q, %v", got, err)
	}

	for _, bad := range []string{"", "short", base64.StdEncoding.EncodeToString(make([]byte, 16))} {
		if _, err := server.NewSecretBox(bad); err == nil {
			t.Errorf("NewSecretBox(%q) succeeded", bad)
		}
	}
}

// TestKeyRotation: a rotated key verifies at once, signs from its
// activation on (which the refresh picks up), the old key verifies until
// retired, and then what it signed no longer opens.
func TestKeyRotation(t *testing.T) {
	st := flagontest.NewMemoryStore()
	ring, err := server.OpenKeyring(t.Context(), st, &server.KeyringOptions{Refresh: 10 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	first := ring.Keys().SigningKeyID()
	old := ring.Keys().Seal("test", []byte("old"))

	change := flagon.Change{Actor: "test"}
	id, err := server.AddSigningKey(t.Context(), st, nil, time.Now().Add(300*time.Millisecond), change)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := st.SigningKeys(t.Context())
	states := server.DescribeKeys(stored, time.Now())
	if len(states) != 2 || states[0].ID != first || states[0].State != "signing" || states[1].ID != id || states[1].State != "pending" {
		t.Errorf("right after rotate: %+v; want %s signing and %s pending", states, first, id)
	}
	waitFor(t, "the new key to sign", func() bool { return ring.Keys().SigningKeyID() == id })
	if got, err := ring.Keys().Open("test", old, 1<<10); err != nil || string(got) != "old" {
		t.Errorf("a value the old key sealed, after rotation: %q, %v", got, err)
	}
	fresh := ring.Keys().Seal("test", []byte("new"))

	if err := st.RetireSigningKey(t.Context(), first, change); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retired key to be dropped", func() bool {
		_, err := ring.Keys().Open("test", old, 1<<10)
		return err != nil
	})
	if got, err := ring.Keys().Open("test", fresh, 1<<10); err != nil || string(got) != "new" {
		t.Errorf("a value the new key sealed: %q, %v", got, err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
