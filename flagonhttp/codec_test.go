package flagonhttp

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCodecRoundTrip(t *testing.T) {
	c := testCodec()
	in := []Entry{
		{Flag: "new-home-page", Value: true, SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)},
		{Flag: "checkout", Value: "express-v2", SetAt: testNow},
		{Flag: "limit", Value: int64(1000), SetAt: testNow.Add(-time.Minute), ExpiresAt: testNow.Add(24 * time.Hour)},
		{Flag: "theme", Value: map[string]any{"color": "pink \"hot\" ✓"}, SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)},
	}
	v := mustCookie(t, c, in...)
	if !strings.HasPrefix(v, "1.k1.") {
		t.Errorf("cookie %q does not start with version and key ID", v)
	}
	got, err := c.Decode(v)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{ // sorted by flag; numbers as json.Number
		{Flag: "checkout", Value: "express-v2", SetAt: testNow},
		{Flag: "limit", Value: json.Number("1000"), SetAt: testNow.Add(-time.Minute), ExpiresAt: testNow.Add(24 * time.Hour)},
		{Flag: "new-home-page", Value: true, SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)},
		{Flag: "theme", Value: map[string]any{"color": "pink \"hot\" ✓"}, SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Flag != want[i].Flag || !reflect.DeepEqual(got[i].Value, want[i].Value) ||
			!got[i].SetAt.Equal(want[i].SetAt) || !got[i].ExpiresAt.Equal(want[i].ExpiresAt) {
			t.Errorf("entry %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestCodecEncodeRefuses(t *testing.T) {
	c := testCodec()
	tests := []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"bad key", []Entry{{Flag: "Bad Key", Value: true}}, "invalid flag key"},
		{"twice", []Entry{{Flag: "a", Value: true}, {Flag: "a", Value: false}}, "appears twice"},
		{"unencodable", []Entry{{Flag: "a", Value: make(chan int)}}, "value"},
		{"too large", manyEntries(200), "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Encode(tt.entries)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Encode: got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func manyEntries(n int) []Entry {
	out := make([]Entry, n)
	for i := range out {
		out[i] = Entry{Flag: "flag-number-" + string(rune('a'+i%26)) + strings.Repeat("x", i/26), Value: true, SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)}
	}
	return out
}

// TestCodecDecodeRefuses covers the cookies that must be ignored: forged,
// tampered, signed with an unknown or rotated-out key, oversized,
// malformed, or of an unknown version.
func TestCodecDecodeRefuses(t *testing.T) {
	c := testCodec()
	good := mustCookie(t, c, Entry{Flag: "new-home-page", Value: true, SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)})
	parts := strings.Split(good, ".")
	otherSecret := &Codec{Keys: MustKeys(Key{ID: "k1", Secret: []byte(strings.Repeat("z", 32))})}
	forgedSameID := mustCookie(t, otherSecret, Entry{Flag: "new-home-page", Value: true, SetAt: testNow})
	rotatedOut := mustCookie(t, &Codec{Keys: MustKeys(testKey("k0"))}, Entry{Flag: "new-home-page", Value: true, SetAt: testNow})
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	sealed := func(payload string) string { return seal(testKeys, purposeCookie, b64.EncodeToString([]byte(payload))) }
	tests := []struct {
		name  string
		value string
		want  error
	}{
		{"empty", "", ErrMalformed},
		{"no dots", "garbage", ErrMalformed},
		{"unknown version", "2" + good[1:], ErrUnknownVersion},
		{"version zero", "0" + good[1:], ErrUnknownVersion},
		{"no signature", parts[0] + "." + parts[1] + "." + parts[2], ErrMalformed},
		{"short signature", good[:len(good)-1], ErrBadSignature},
		{"tampered payload", parts[0] + "." + parts[1] + "." + flip(parts[2], 3) + "." + parts[3], ErrBadSignature},
		{"tampered signature", parts[0] + "." + parts[1] + "." + parts[2] + "." + flip(parts[3], 5), ErrBadSignature},
		{"forged with another secret", forgedSameID, ErrBadSignature},
		{"key rotated out", rotatedOut, ErrUnknownKey},
		{"unknown key ID", parts[0] + ".nope." + parts[2] + "." + parts[3], ErrUnknownKey},
		{"oversized", good + strings.Repeat("A", DefaultMaxCookieSize), ErrTooLarge},
		{"header replayed as cookie", seal(testKeys, purposeHeader, parts[2]), ErrBadSignature},
		{"token replayed as cookie", seal(testKeys, purposeToken, parts[2]), ErrBadSignature},
		{"signed non-base64", seal(testKeys, purposeCookie, "!!!"), ErrMalformed},
		{"signed non-JSON", sealed("not json"), ErrMalformed},
		{"signed array", sealed(`[1,2]`), ErrMalformed},
		{"signed trailing data", sealed(`{}{}`), ErrMalformed},
		{"signed entry not an object", sealed(`{"a":true}`), ErrMalformed},
		{"signed bad time", sealed(`{"a":{"value":true,"setAt":"yesterday"}}`), ErrMalformed},
		{"signed negative time", sealed(`{"a":{"value":true,"setAt":-5}}`), ErrMalformed},
		{"signed fractional time", sealed(`{"a":{"value":true,"setAt":1.5}}`), ErrMalformed},
		{"signed huge time", sealed(`{"a":{"value":true,"expiresAt":1e30}}`), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Decode(tt.value)
			if !errors.Is(err, tt.want) {
				t.Errorf("Decode: got %v, %v; want error %v", got, err, tt.want)
			}
		})
	}
}

func TestCodecKeyRotation(t *testing.T) {
	k1, k2 := testKey("k1"), testKey("k2")
	old := &Codec{Keys: MustKeys(k1), Now: fixedNow}
	v1 := mustCookie(t, old, Entry{Flag: "new-home-page", Value: true})

	// During rotation: k2 signs, k1 still verifies.
	during := &Codec{Keys: MustKeys(k2, k1), Now: fixedNow}
	if _, err := during.Decode(v1); err != nil {
		t.Errorf("cookie signed by k1 during rotation: %v", err)
	}
	v2 := mustCookie(t, during, Entry{Flag: "new-home-page", Value: true})
	if !strings.HasPrefix(v2, "1.k2.") {
		t.Errorf("new cookie %q is not signed by k2", v2)
	}
	// After rotation: k1 is gone; its cookies are refused.
	after := &Codec{Keys: MustKeys(k2), Now: fixedNow}
	if _, err := after.Decode(v1); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("cookie signed by a retired key: got %v, want ErrUnknownKey", err)
	}
	if _, err := after.Decode(v2); err != nil {
		t.Errorf("cookie signed by k2 after rotation: %v", err)
	}
}

func TestCodecRead(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	c := testCodec()
	hour := time.Hour
	v := mustCookie(t, c,
		Entry{Flag: "new-home-page", Value: true, SetAt: testNow.Add(-hour), ExpiresAt: testNow.Add(hour)},
		Entry{Flag: "gone-flag", Value: true, SetAt: testNow.Add(-hour), ExpiresAt: testNow.Add(hour)},
		Entry{Flag: "kill-switch", Value: true, SetAt: testNow.Add(-hour), ExpiresAt: testNow.Add(hour)},
		Entry{Flag: "checkout", Value: "beta", SetAt: testNow.Add(-hour), ExpiresAt: testNow.Add(hour)},
		Entry{Flag: "limit", Value: "ten", SetAt: testNow.Add(-hour), ExpiresAt: testNow.Add(hour)},
		Entry{Flag: "use-new-email-service", Value: true, SetAt: testNow.Add(-2 * hour), ExpiresAt: testNow.Add(-hour)},
		// The policy allows an hour: asking for a day does not help.
		Entry{Flag: "short", Value: true, SetAt: testNow.Add(-2 * hour), ExpiresAt: testNow.Add(24 * hour)},
		Entry{Flag: "ratio", Value: 0.5, SetAt: testNow.Add(-hour)},
	)
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: v})
	got, err := c.Read(r, client.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]EntryStatus{
		"checkout":              EntryInvalid,
		"gone-flag":             EntryStale,
		"kill-switch":           EntryRefused,
		"limit":                 EntryInvalid,
		"new-home-page":         EntryActive,
		"ratio":                 EntryActive,
		"short":                 EntryExpired,
		"use-new-email-service": EntryExpired,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for _, e := range got {
		if e.Status != want[e.Flag] {
			t.Errorf("%s: status %s (%s), want %s", e.Flag, e.Status, e.Problem, want[e.Flag])
		}
		if (e.Status == EntryActive) != (e.Problem == "") {
			t.Errorf("%s: status %s with problem %q", e.Flag, e.Status, e.Problem)
		}
		if e.Flag == "short" && !e.ExpiresAt.Equal(testNow.Add(-hour)) {
			t.Errorf("short: expires %v, want the policy's limit %v", e.ExpiresAt, testNow.Add(-hour))
		}
		if e.Flag == "ratio" && e.Value != 0.5 {
			t.Errorf("ratio: value %#v, want canonical 0.5", e.Value)
		}
	}

	// No cookie: nothing, no error. A bad cookie: an error.
	if got, err := c.Read(httptest.NewRequest("GET", "/", nil), client.Snapshot()); got != nil || err != nil {
		t.Errorf("Read without cookie: %v, %v", got, err)
	}
	r = httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: "1.k1.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
	if _, err := c.Read(r, client.Snapshot()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Read with forged cookie: got %v, want ErrBadSignature", err)
	}
}

func TestCodecCookieAttributes(t *testing.T) {
	c := testCodec()
	plain := httptest.NewRequest("GET", "/", nil)
	secure := httptest.NewRequest("GET", "https://example.com/", nil)
	secure.TLS = &tls.ConnectionState{}
	entries := []Entry{
		{Flag: "a", Value: true, SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)},
		{Flag: "b", Value: true, SetAt: testNow, ExpiresAt: testNow.Add(2 * time.Hour)},
		{Flag: "old", Value: true, SetAt: testNow.Add(-2 * time.Hour), ExpiresAt: testNow.Add(-time.Hour)},
	}
	tests := []struct {
		name   string
		codec  *Codec
		r      *http.Request
		secure bool
	}{
		{"auto plain", c, plain, false},
		{"auto TLS", c, secure, true},
		{"always", &Codec{Keys: testKeys, Now: fixedNow, Secure: SecureAlways}, plain, true},
		{"never", &Codec{Keys: testKeys, Now: fixedNow, Secure: SecureNever}, secure, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ck, err := tt.codec.Cookie(tt.r, entries)
			if err != nil {
				t.Fatal(err)
			}
			if ck.Name != DefaultCookieName || ck.Path != "/" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure != tt.secure {
				t.Errorf("cookie %v: want %s, Path=/, HttpOnly, SameSite=Lax, Secure=%v", ck, DefaultCookieName, tt.secure)
			}
			if ck.MaxAge != 7200 {
				t.Errorf("MaxAge %d, want 7200 (the latest expiry)", ck.MaxAge)
			}
			got, err := tt.codec.Decode(ck.Value)
			if err != nil || len(got) != 2 {
				t.Errorf("cookie holds %v, %v; want the 2 unexpired entries", got, err)
			}
		})
	}
	del, err := c.Cookie(plain, entries[2:])
	if err != nil {
		t.Fatal(err)
	}
	if del.MaxAge != -1 || del.Value != "" {
		t.Errorf("cookie with nothing left: %v, want a deletion (MaxAge -1)", del)
	}
	w := httptest.NewRecorder()
	c.Delete(w, plain)
	if got := w.Header().Get("Set-Cookie"); !strings.Contains(got, "Max-Age=0") {
		t.Errorf("Delete sets %q, want Max-Age=0", got)
	}
}

func TestKeys(t *testing.T) {
	if _, err := NewKeys(); err == nil {
		t.Error("NewKeys(): no error")
	}
	if _, err := NewKeys(Key{ID: "a", Secret: []byte("short")}); err == nil {
		t.Error("short secret: no error")
	}
	if _, err := NewKeys(Key{ID: "bad.id", Secret: make([]byte, 32)}); err == nil {
		t.Error("ID with a dot: no error")
	}
	if _, err := NewKeys(testKey("k1"), testKey("k1")); err == nil {
		t.Error("duplicate ID: no error")
	}
	k, err := ParseKeys("k2:" + b64.EncodeToString(make([]byte, 32)) + ", k1:" + strings.Repeat("QUFB", 11))
	if err != nil {
		t.Fatal(err)
	}
	if got := k.IDs(); !reflect.DeepEqual(got, []string{"k2", "k1"}) || k.SigningKeyID() != "k2" {
		t.Errorf("ParseKeys: IDs %v, signing %s", got, k.SigningKeyID())
	}
	if _, err := ParseKeys("k1"); err == nil {
		t.Error("ParseKeys without secret: no error")
	}
	if s := testKey("k1").String(); strings.Contains(s, "kkkk") {
		t.Errorf("Key.String shows the secret: %s", s)
	}
	// A nil ring is the per-process key.
	var nilKeys *Keys
	if nilKeys.SigningKeyID() != "process" {
		t.Errorf("nil Keys signs with %q", nilKeys.SigningKeyID())
	}
}

// FuzzDecodeCookie checks that no cookie value makes the decoder panic,
// and that what it accepts behind a valid signature survives a round trip
// through Encode.
func FuzzDecodeCookie(f *testing.F) {
	c := testCodec()
	good := mustCookie(f, c,
		Entry{Flag: "new-home-page", Value: true, SetAt: testNow, ExpiresAt: testNow.Add(time.Hour)},
		Entry{Flag: "theme", Value: map[string]any{"a": []any{1.5, "x"}}, SetAt: testNow})
	for _, s := range []string{
		good, "", "1", "1.", "1.k1..", "2.k1.e30." + strings.Repeat("A", 43),
		`{}`, `{"a":{"value":true,"setAt":1,"expiresAt":2}}`, `{"a":{"value":"x\u00e9\"","setAt":1}}`,
		`{"a":{"value":{"n":[1,{"m":null}]}},"b":{}}`, ` { "a" : { "value" : -1.5e3 } } `, `{"a":{"value":tru}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Straight in: must not panic.
		_, _ = c.Decode(s)
		// Behind a valid signature, to reach the payload decoder.
		entries, err := c.Decode(seal(testKeys, purposeCookie, b64.EncodeToString([]byte(s))))
		if err != nil {
			return
		}
		for i := range entries {
			if entries[i].SetAt.IsZero() {
				entries[i].SetAt = testNow
			}
		}
		v, err := (&Codec{Keys: testKeys, MaxSize: 1 << 20}).Encode(entries)
		if err != nil {
			return // an invalid flag key, or a repeated one: Encode refuses what Read would mark stale
		}
		again, err := c.Decode(v)
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(%q))): %v", s, err)
		}
		if len(again) != len(entries) {
			t.Fatalf("round trip of %q: %d entries, want %d", s, len(again), len(entries))
		}
		for i := range again {
			if again[i].Flag != entries[i].Flag || !again[i].SetAt.Equal(entries[i].SetAt) || !again[i].ExpiresAt.Equal(entries[i].ExpiresAt) {
				t.Fatalf("round trip of %q: entry %d is %+v, want %+v", s, i, again[i], entries[i])
			}
		}
	})
}

// TestFutureEntries checks that an override set later than now, beyond
// the clock skew allowed, is refused by the middleware (and logged once)
// and marked invalid by Read, while one within the skew applies.
func TestFutureEntries(t *testing.T) {
	client, _ := newTestClient(t, testDefs())
	c := testCodec()
	tests := []struct {
		name    string
		setAt   time.Time
		applies bool
	}{
		{"now", testNow, true},
		{"within skew", testNow.Add(maxClockSkew), true},
		{"just past skew", testNow.Add(maxClockSkew + time.Second), false},
		{"a day ahead", testNow.Add(24 * time.Hour), false},
		{"years ahead", testNow.AddDate(10, 0, 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := mustCookie(t, c, Entry{Flag: "new-home-page", Value: true, SetAt: tt.setAt, ExpiresAt: tt.setAt.Add(time.Hour)})

			rec := &logRecorder{}
			opts := testOptions()
			opts.Logger = slog.New(rec)
			h := Middleware(client, opts)(probe(client, "new-home-page"))
			want := "new-home-page=false key=u1"
			if tt.applies {
				want = "new-home-page=true(cookie) key=u1"
			}
			for range 3 {
				w := serve(h, withCookie(httptest.NewRequest("GET", "/", nil), DefaultCookieName, v))
				if got := w.Body.String(); got != want {
					t.Fatalf("body %q, want %q", got, want)
				}
			}
			wantLogs := 1
			if tt.applies {
				wantLogs = 0
			}
			if got := rec.count("override cookie entry"); got != wantLogs {
				t.Errorf("logged %d times, want %d: %q", got, wantLogs, rec.msgs)
			}

			r := httptest.NewRequest("GET", "/", nil)
			r.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: v})
			entries, err := c.Read(r, client.Snapshot())
			if err != nil || len(entries) != 1 {
				t.Fatalf("Read: %v, %v; want one entry", entries, err)
			}
			wantStatus := EntryInvalid
			if tt.applies {
				wantStatus = EntryActive
			}
			if got := entries[0].Status; got != wantStatus {
				t.Errorf("Read: status %s (%s), want %s", got, entries[0].Problem, wantStatus)
			}
		})
	}
}
