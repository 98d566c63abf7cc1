package flagontest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagontest"
)

func ctxFor(key string, attrs map[string]any) context.Context {
	return flagon.WithEvalContext(context.Background(), flagon.EvalContext{Key: key, Attrs: attrs})
}

func TestKitValues(t *testing.T) {
	t.Parallel()
	kit := flagontest.New(t, flagontest.Flags{
		"new-home-page": true,
		"old-page":      false,
		"checkout":      "express",
		"greeting":      "Hello, world",
		"limit":         25,
		"ratio":         float32(0.5),
		"theme":         map[string]any{"color": "blue"},
		"staff-only": flagon.Flag{Rules: []flagon.Rule{{
			Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}},
			Serve:   flagon.Serve{Variant: "on"},
		}}},
	})
	c, ctx := kit.Client, ctxFor("u1", nil)
	tests := []struct {
		key, got, want string
	}{
		{"new-home-page", fmt.Sprint(c.Bool(ctx, "new-home-page", false)), "true"},
		{"old-page", fmt.Sprint(c.Bool(ctx, "old-page", true)), "false"},
		{"checkout", c.String(ctx, "checkout", ""), "express"},
		{"greeting", c.String(ctx, "greeting", ""), "Hello, world"},
		{"limit", fmt.Sprint(c.Int(ctx, "limit", 0)), "25"},
		{"ratio", fmt.Sprint(c.Float(ctx, "ratio", 0)), "0.5"},
		{"theme", fmt.Sprint(c.Object(ctx, "theme", nil)), "map[color:blue]"},
		{"staff-only for staff", fmt.Sprint(c.Bool(ctxFor("u2", map[string]any{"is_staff": true}), "staff-only", false)), "true"},
		{"staff-only for others", fmt.Sprint(c.Bool(ctx, "staff-only", true)), "false"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %s, want %s", tt.key, tt.got, tt.want)
		}
	}
	// Variants are named after string values that can name one.
	if _, r := c.StringDetail(ctx, "checkout", ""); r.Variant != "express" {
		t.Errorf("checkout variant %q, want express", r.Variant)
	}
	if _, r := c.StringDetail(ctx, "greeting", ""); r.Variant != "value" {
		t.Errorf("greeting variant %q, want value", r.Variant)
	}
	// Plain flags may be overridden by anyone.
	if f, _ := c.Snapshot().Flag("checkout"); f.Override.Who != flagon.WhoAnyone {
		t.Errorf("override policy %q, want anyone", f.Override.Who)
	}
}

func TestKitRecords(t *testing.T) {
	t.Parallel()
	kit := flagontest.New(t, flagontest.Flags{"new-home-page": true, "checkout": "express"})
	attrs := map[string]any{"is_staff": true}
	kit.Client.Bool(ctxFor("u1", attrs), "new-home-page", false)
	kit.Client.String(ctxFor("u2", nil), "checkout", "")
	kit.Client.Bool(ctxFor("u3", nil), "missing", false)
	attrs["is_staff"] = false // the kit kept a copy

	if !kit.Read("new-home-page") || !kit.Read("checkout") || !kit.Read("missing") || kit.Read("other") {
		t.Errorf("Read: %v %v %v %v", kit.Read("new-home-page"), kit.Read("checkout"), kit.Read("missing"), kit.Read("other"))
	}
	evs := kit.Evaluations()
	if len(evs) != 3 {
		t.Fatalf("%d evaluations, want 3", len(evs))
	}
	if e := evs[0]; e.Key != "new-home-page" || e.Context.Key != "u1" || e.Context.Attrs["is_staff"] != true || e.Result.Value != true {
		t.Errorf("first evaluation %+v", e)
	}
	if e := evs[2]; e.Result.ErrorCode != flagon.ErrorFlagNotFound {
		t.Errorf("missing flag recorded as %+v", e.Result)
	}
	if r := kit.Reads("checkout"); len(r) != 1 || r[0].Context.Key != "u2" {
		t.Errorf("Reads(checkout) = %+v", r)
	}
	for range kit.Client.All(ctxFor("u4", nil)) {
	}
	if n := len(kit.Reads("checkout")); n != 2 {
		t.Errorf("All recorded checkout %d times in all, want 2", n)
	}
	kit.Reset()
	if len(kit.Evaluations()) != 0 || kit.Read("new-home-page") {
		t.Errorf("Reset kept evaluations")
	}
}

func TestKitSet(t *testing.T) {
	t.Parallel()
	kit := flagontest.New(t, flagontest.Flags{"new-home-page": true})
	ctx := ctxFor("u1", nil)
	kit.Set("new-home-page", false)
	if kit.Client.Bool(ctx, "new-home-page", true) {
		t.Errorf("Set(false) not seen")
	}
	kit.Set("checkout", "classic") // a new flag
	if got := kit.Client.String(ctx, "checkout", ""); got != "classic" {
		t.Errorf("new flag: %q", got)
	}
	kit.Set("new-home-page", "now a string") // and a new type
	if got := kit.Client.String(ctx, "new-home-page", ""); got != "now a string" {
		t.Errorf("retyped flag: %q", got)
	}
	kit.Delete("checkout")
	if _, r := kit.Client.StringDetail(ctx, "checkout", "dflt"); r.ErrorCode != flagon.ErrorFlagNotFound {
		t.Errorf("deleted flag: %+v", r)
	}
}

// fakeT records the failures of the code under test; Fatalf ends the
// goroutine, as testing.T's does.
type fakeT struct {
	testing.TB
	mu       sync.Mutex
	fatal    string
	cleanups []func()
}

func (f *fakeT) Helper() {}
func (f *fakeT) Cleanup(fn func()) {
	f.mu.Lock()
	f.cleanups = append(f.cleanups, fn)
	f.mu.Unlock()
}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// run calls fn with a fakeT on a goroutine of its own, and returns the
// failure it reported.
func run(fn func(t testing.TB)) string {
	ft := &fakeT{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ft)
	}()
	<-done
	for _, c := range ft.cleanups {
		c()
	}
	return ft.fatal
}

func TestKitBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fn   func(t testing.TB)
		want string
	}{
		{"unsupported value", func(t testing.TB) { flagontest.New(t, flagontest.Flags{"f": []string{"a"}}) }, `flag "f": cannot serve [a] ([]string)`},
		{"invalid key", func(t testing.TB) { flagontest.New(t, flagontest.Flags{"Bad Key": true}) }, `invalid key "Bad Key"`},
		{"flag with another key", func(t testing.TB) { flagontest.New(t, flagontest.Flags{"f": flagon.Flag{Key: "g"}}) }, `flag "f": its Key is "g"`},
		{"invalid flag", func(t testing.TB) {
			flagontest.New(t, flagontest.Flags{"f": flagon.Flag{Default: "maybe"}})
		}, `unknown variant "maybe"`},
		{"Set with an unsupported value", func(t testing.TB) {
			flagontest.New(t, flagontest.Flags{"f": true}).Set("f", struct{}{})
		}, `cannot serve {}`},
		{"Set with an invalid flag", func(t testing.TB) {
			kit := flagontest.New(t, flagontest.Flags{"f": true})
			defer func() {
				// The failed Set changed nothing.
				if !kit.Client.Bool(context.Background(), "f", false) {
					panic("the failed Set changed the flag")
				}
			}()
			kit.Set("f", flagon.Flag{Type: "bogus"})
		}, `unknown type "bogus"`},
	}
	for _, tt := range tests {
		if got := run(tt.fn); !strings.Contains(got, tt.want) {
			t.Errorf("%s: failure %q, want one containing %q", tt.name, got, tt.want)
		}
	}
}

// TestKitsInParallel runs kits with different values side by side: each
// test sees its own.
func TestKitsInParallel(t *testing.T) {
	t.Parallel()
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			kit := flagontest.New(t, flagontest.Flags{"limit": i})
			for j := range 100 {
				if got := kit.Client.Int(ctxFor(fmt.Sprint(j), nil), "limit", -1); got != int64(i) {
					t.Fatalf("kit %d sees %d", i, got)
				}
				if j == 50 {
					kit.Set("limit", i+100)
					i += 100
				}
			}
		})
	}
}

// TestKitSetDefault does not run in parallel: it changes the default
// client.
func TestKitSetDefault(t *testing.T) {
	before := flagon.Default()
	t.Run("inner", func(t *testing.T) {
		kit := flagontest.New(t, flagontest.Flags{"new-home-page": true})
		kit.SetDefault()
		if !flagon.Bool(context.Background(), "new-home-page", false) {
			t.Errorf("the default client is not the kit's")
		}
	})
	if flagon.Default() != before {
		t.Errorf("the default client was not restored")
	}
}

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))
