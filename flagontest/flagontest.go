package flagontest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/flagon/flagon"
)

// Flags gives the flags of a Kit by key. A value is what the flag serves
// to everyone: a bool, a string, any Go integer, a float64 or float32, or
// a map[string]any for an object flag. A flagon.Flag value is used as it
// is, rules and all (its Key may be left empty).
//
// A flag made from a plain value has one variant holding the value (bool
// flags have "on" and "off"), named after the value when the value is a
// valid variant name (so "express" serves variant "express"), else
// "value"; its override policy is "anyone", so that tests can override it
// without configuring who may.
type Flags map[string]any

// A Kit is a flagon client for one test: its flags live in a memory
// source that the test changes with Set, and it records every evaluation
// so that the test can assert which flags were read, with which context.
//
// A Kit leaves the default client alone, so tests that use kits may run
// in parallel; pass Kit.Client to the code under test, or call SetDefault
// in a test that does not run in parallel.
type Kit struct {
	// Client evaluates the kit's flags.
	Client *flagon.Client
	// Source holds the kit's flags.
	Source *flagon.MemorySource

	t     testing.TB
	mu    sync.Mutex
	flags map[string]flagon.Flag
	evals []Evaluation
}

// An Evaluation is one flag read, as the kit recorded it.
type Evaluation struct {
	Key     string
	Context flagon.EvalContext // a copy of the context the flag was read with
	Result  flagon.Result
}

// New returns a kit serving flags, for the test t. It fails t if a flag is
// invalid. The kit's client is closed when the test ends.
func New(t testing.TB, flags Flags) *Kit {
	t.Helper()
	k := &Kit{t: t, flags: make(map[string]flagon.Flag, len(flags))}
	for key, v := range flags {
		f, err := kitFlag(key, v)
		if err != nil {
			t.Fatalf("flagontest: %v", err)
		}
		k.flags[key] = f
	}
	src, err := flagon.NewMemorySource(k.definitions(), "")
	if err != nil {
		t.Fatalf("flagontest: %v", err)
	}
	k.Source = src
	k.Client = flagon.NewClient(src, &flagon.Options{
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnEvaluate: k.record,
	})
	t.Cleanup(k.Client.Close)
	return k
}

// record is the client's OnEvaluate hook.
func (k *Kit) record(_ context.Context, ec flagon.EvalContext, r flagon.Result) {
	ec.Attrs = maps.Clone(ec.Attrs) // the client may reuse the map after the call
	k.mu.Lock()
	k.evals = append(k.evals, Evaluation{Key: r.Key, Context: ec, Result: r})
	k.mu.Unlock()
}

// Set makes the flag with the given key serve value (as in Flags), adding
// the flag if the kit has none by that key. The client sees the change at
// once. It fails the test if value is invalid.
func (k *Kit) Set(key string, value any) {
	k.t.Helper()
	f, err := kitFlag(key, value)
	if err != nil {
		k.t.Fatalf("flagontest: Set: %v", err)
	}
	k.mu.Lock()
	old, had := k.flags[key]
	k.flags[key] = f
	defs := k.definitions()
	if err = k.Source.Set(defs); err != nil {
		if had {
			k.flags[key] = old
		} else {
			delete(k.flags, key)
		}
	}
	k.mu.Unlock()
	if err != nil {
		k.t.Fatalf("flagontest: Set(%q): %v", key, err)
	}
}

// Delete removes the flag with the given key, so that reading it fails
// with FLAG_NOT_FOUND and getters serve the caller's default.
func (k *Kit) Delete(key string) {
	k.t.Helper()
	k.mu.Lock()
	delete(k.flags, key)
	err := k.Source.Set(k.definitions())
	k.mu.Unlock()
	if err != nil {
		k.t.Fatalf("flagontest: Delete(%q): %v", key, err)
	}
}

// definitions returns the kit's flags, in key order. k.mu is held, or k is
// not shared yet.
func (k *Kit) definitions() flagon.Definitions {
	keys := slices.Sorted(maps.Keys(k.flags))
	defs := flagon.Definitions{Flags: make([]flagon.Flag, 0, len(keys))}
	for _, key := range keys {
		defs.Flags = append(defs.Flags, k.flags[key])
	}
	return defs
}

// Evaluations returns the evaluations recorded so far, in order.
func (k *Kit) Evaluations() []Evaluation {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.evals)
}

// Reads returns the recorded evaluations of the flag with the given key.
func (k *Kit) Reads(key string) []Evaluation {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []Evaluation
	for _, e := range k.evals {
		if e.Key == key {
			out = append(out, e)
		}
	}
	return out
}

// Read reports whether the flag with the given key was read.
func (k *Kit) Read(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, e := range k.evals {
		if e.Key == key {
			return true
		}
	}
	return false
}

// Reset forgets the evaluations recorded so far.
func (k *Kit) Reset() {
	k.mu.Lock()
	k.evals = nil
	k.mu.Unlock()
}

// SetDefault makes the kit's client the default client, for code that
// reads flags through flagon.Bool and typed handles, until the test ends,
// when the previous default is restored. A test that calls it must not
// run in parallel with others that use the default client.
func (k *Kit) SetDefault() {
	prev := flagon.Default()
	flagon.SetDefault(k.Client)
	k.t.Cleanup(func() { flagon.SetDefault(prev) })
}

// kitFlag returns the flag that serves v.
func kitFlag(key string, v any) (flagon.Flag, error) {
	if f, ok := v.(flagon.Flag); ok {
		if f.Key == "" {
			f.Key = key
		}
		if f.Key != key {
			return f, fmt.Errorf("flag %q: its Key is %q", key, f.Key)
		}
		return f, nil
	}
	f := flagon.Flag{Key: key, Override: flagon.OverridePolicy{Who: flagon.WhoAnyone}}
	switch x := v.(type) {
	case bool:
		f.Type, f.Default = flagon.TypeBool, "off"
		if x {
			f.Default = "on"
		}
		return f, nil
	case string:
		f.Type = flagon.TypeString
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		f.Type = flagon.TypeInt
	case float64, float32:
		f.Type = flagon.TypeFloat
	case map[string]any:
		f.Type = flagon.TypeObject
	default:
		return f, fmt.Errorf("flag %q: cannot serve %v (%T): want a bool, string, integer, float, map[string]any or flagon.Flag", key, v, v)
	}
	cv, err := flagon.ConvertValue(f.Type, v)
	if err != nil {
		return f, fmt.Errorf("flag %q: %v", key, err)
	}
	name := "value"
	if s, ok := cv.(string); ok && validName(s) {
		name = s
	}
	f.Variants = []flagon.Variant{{Name: name, Value: cv}}
	return f, nil
}

// validName reports whether s can name a variant.
func validName(s string) bool {
	if s == "" || len(s) > flagon.MaxKeyLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
