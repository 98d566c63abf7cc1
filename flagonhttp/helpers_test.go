package flagonhttp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// testNow is the fixed time tests run at.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return testNow }

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func testKey(id string) Key {
	return Key{ID: id, Secret: bytes.Repeat([]byte(id[:1]), MinSecretLen)}
}

var testKeys = MustKeys(testKey("k1"))

// testDefs are the flags most tests use.
func testDefs() flagon.Definitions {
	return flagon.Definitions{
		Audiences: []flagon.Audience{{
			Name:    "staff",
			Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}},
		}},
		Flags: []flagon.Flag{
			{Key: "new-home-page", Description: "The new home page", Override: flagon.OverridePolicy{Who: flagon.WhoAnyone}},
			{Key: "use-new-email-service", Override: flagon.OverridePolicy{Audience: "staff"}},
			{Key: "kill-switch", Override: flagon.OverridePolicy{Who: flagon.WhoNone}},
			{Key: "short", Override: flagon.OverridePolicy{Who: flagon.WhoAnyone, MaxDuration: time.Hour}},
			{
				Key:  "checkout",
				Type: flagon.TypeString,
				Variants: []flagon.Variant{
					{Name: "classic", Value: "classic"}, {Name: "express", Value: "express-v2"}, {Name: "beta", Value: "beta"},
				},
				Override: flagon.OverridePolicy{Who: flagon.WhoAnyone, Variants: []string{"classic", "express"}},
			},
			{
				Key:      "limit",
				Type:     flagon.TypeInt,
				Variants: []flagon.Variant{{Name: "small", Value: 10}, {Name: "big", Value: 1000}},
			},
			{
				Key:      "ratio",
				Type:     flagon.TypeFloat,
				Variants: []flagon.Variant{{Name: "half", Value: 0.5}},
				Override: flagon.OverridePolicy{Who: flagon.WhoAnyone},
			},
			{
				Key:      "theme",
				Type:     flagon.TypeObject,
				Variants: []flagon.Variant{{Name: "plain", Value: map[string]any{"color": "grey"}}},
				Override: flagon.OverridePolicy{Who: flagon.WhoAnyone},
			},
		},
	}
}

func newTestClient(t testing.TB, defs flagon.Definitions) (*flagon.Client, *flagon.MemorySource) {
	t.Helper()
	src, err := flagon.NewMemorySource(defs, "")
	if err != nil {
		t.Fatal(err)
	}
	c := flagon.NewClient(src, &flagon.Options{Logger: discard})
	t.Cleanup(c.Close)
	return c, src
}

// staffContext treats requests with the header X-Staff: yes as staff.
func staffContext(r *http.Request) flagon.EvalContext {
	return flagon.EvalContext{Key: "u1", Attrs: map[string]any{"is_staff": r.Header.Get("X-Staff") == "yes"}}
}

func testOptions() *Options {
	return &Options{Keys: testKeys, Context: staffContext, Logger: discard, Now: fixedNow}
}

func testCodec() *Codec { return &Codec{Keys: testKeys, Now: fixedNow} }

// mustCookie returns a signed cookie value holding entries.
func mustCookie(t testing.TB, c *Codec, entries ...Entry) string {
	t.Helper()
	v, err := c.Encode(entries)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// logRecorder is a slog.Handler that keeps messages.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.msgs = append(l.msgs, b.String())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, substr) {
			n++
		}
	}
	return n
}
