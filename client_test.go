package flagon_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/flagon/flagon"
)

func typedDefs() flagon.Definitions {
	return flagon.Definitions{Flags: []flagon.Flag{
		{Key: "b", Default: "on"},
		{Key: "s", Type: flagon.TypeString, Variants: []flagon.Variant{{Name: "x", Value: "express"}}},
		{Key: "i", Type: flagon.TypeInt, Variants: []flagon.Variant{{Name: "x", Value: 42}}},
		{Key: "f", Type: flagon.TypeFloat, Variants: []flagon.Variant{{Name: "x", Value: 0.5}}},
		{Key: "o", Type: flagon.TypeObject, Variants: []flagon.Variant{{Name: "x", Value: map[string]any{"color": "blue"}}}},
	}}
}

func newClient(t testing.TB, defs flagon.Definitions) (*flagon.Client, *flagon.MemorySource) {
	t.Helper()
	src, err := flagon.NewMemorySource(defs, "")
	if err != nil {
		t.Fatal(err)
	}
	c := flagon.NewClient(src, &flagon.Options{Logger: discardLogger})
	t.Cleanup(c.Close)
	return c, src
}

func TestTypedGetters(t *testing.T) {
	c, _ := newClient(t, typedDefs())
	ctx := context.Background()
	if got := c.Bool(ctx, "b", false); got != true {
		t.Errorf("Bool = %v, want true", got)
	}
	if got := c.String(ctx, "s", "def"); got != "express" {
		t.Errorf("String = %q, want express", got)
	}
	if got := c.Int(ctx, "i", 7); got != 42 {
		t.Errorf("Int = %d, want 42", got)
	}
	if got := c.Float(ctx, "f", 7); got != 0.5 {
		t.Errorf("Float = %v, want 0.5", got)
	}
	if got := c.Object(ctx, "o", nil); got["color"] != "blue" {
		t.Errorf("Object = %v, want color blue", got)
	}
}

// TestGettersReturnDefaultOnError checks that every kind of failure gives
// the caller's default and a Detail that says why.
func TestGettersReturnDefaultOnError(t *testing.T) {
	c, _ := newClient(t, typedDefs())
	ctx := context.Background()
	tests := []struct {
		name string
		get  func() (any, flagon.Result)
		want any
		code flagon.ErrorCode
		err  error
	}{
		{"unknown flag", func() (any, flagon.Result) { return c.BoolDetail(ctx, "nope", true) }, true, flagon.ErrorFlagNotFound, flagon.ErrNotFound},
		{"bool as string", func() (any, flagon.Result) { return c.StringDetail(ctx, "b", "def") }, "def", flagon.ErrorTypeMismatch, flagon.ErrTypeMismatch},
		{"string as int", func() (any, flagon.Result) { return c.IntDetail(ctx, "s", 7) }, int64(7), flagon.ErrorTypeMismatch, flagon.ErrTypeMismatch},
		{"int as float", func() (any, flagon.Result) { return c.FloatDetail(ctx, "i", 1.5) }, 1.5, flagon.ErrorTypeMismatch, flagon.ErrTypeMismatch},
		{"float as bool", func() (any, flagon.Result) { return c.BoolDetail(ctx, "f", true) }, true, flagon.ErrorTypeMismatch, flagon.ErrTypeMismatch},
		{"object as string", func() (any, flagon.Result) { return c.StringDetail(ctx, "o", "d") }, "d", flagon.ErrorTypeMismatch, flagon.ErrTypeMismatch},
		{"nil client", func() (any, flagon.Result) { return (*flagon.Client)(nil).BoolDetail(ctx, "b", true) }, true, flagon.ErrorProviderNotReady, flagon.ErrNotReady},
	}
	for _, tt := range tests {
		got, r := tt.get()
		if fmt.Sprint(got) != fmt.Sprint(tt.want) || r.ErrorCode != tt.code || r.Reason != flagon.ReasonError || !errors.Is(r.Err(), tt.err) {
			t.Errorf("%s: got %v, code %s, reason %s, err %v; want %v, %s, ERROR, %v", tt.name, got, r.ErrorCode, r.Reason, r.Err(), tt.want, tt.code, tt.err)
		}
	}
	if v, r := c.ObjectDetail(ctx, "nope", map[string]any{"d": 1}); v["d"] != 1 || r.ErrorCode != flagon.ErrorFlagNotFound {
		t.Errorf("ObjectDetail(nope) = %v, %s", v, r.ErrorCode)
	}
}

func TestContextAccessors(t *testing.T) {
	ctx := context.Background()
	if ec := flagon.EvalContextFrom(ctx); ec.Key != "" || ec.Attrs != nil {
		t.Errorf("EvalContextFrom(empty) = %+v", ec)
	}
	ov := flagon.OverrideMap{"b": {Value: false}}
	ctx = flagon.WithOverrides(ctx, ov)
	ctx = flagon.WithEvalContext(ctx, flagon.EvalContext{Key: "u1"})
	if got := flagon.EvalContextFrom(ctx).Key; got != "u1" {
		t.Errorf("EvalContextFrom = %q, want u1", got)
	}
	if got := flagon.OverridesFrom(ctx); got == nil {
		t.Error("WithEvalContext dropped the overrides")
	}
	ctx = flagon.WithOverrides(ctx, nil)
	if flagon.OverridesFrom(ctx) != nil || flagon.EvalContextFrom(ctx).Key != "u1" {
		t.Error("WithOverrides(nil) should drop the overrides and keep the context")
	}
}

func TestClientOverrideLayer(t *testing.T) {
	c, _ := newClient(t, typedDefs())
	ctx := flagon.WithScope(context.Background(), flagon.EvalContext{Key: "u"}, flagon.OverrideMap{
		"b": {Value: false, Source: "cookie"},
		"i": {Value: "not an int", Source: "cookie"},
	})
	v, r := c.BoolDetail(ctx, "b", true)
	if v != false || r.Reason != flagon.ReasonOverride || r.Variant != "off" || r.OverrideSource != "cookie" {
		t.Errorf("BoolDetail with override = %v, %+v", v, r)
	}
	if got := c.Int(ctx, "i", 0); got != 42 {
		t.Errorf("an override of the wrong type must be ignored; Int = %d, want 42", got)
	}
}

func TestAll(t *testing.T) {
	c, _ := newClient(t, typedDefs())
	rs := slices.Collect(c.All(context.Background()))
	var keys []string
	for _, r := range rs {
		keys = append(keys, r.Key)
		if r.ErrorCode != "" || r.Revision == "" {
			t.Errorf("All: %s: %+v", r.Key, r)
		}
	}
	if got := strings.Join(keys, ","); got != "b,f,i,o,s" {
		t.Errorf("All keys = %s, want b,f,i,o,s", got)
	}
	if slices.Collect((*flagon.Client)(nil).All(context.Background())) != nil {
		t.Error("nil client All should be nil")
	}
}

func TestClientFollowsSource(t *testing.T) {
	c, src := newClient(t, flagon.Definitions{Flags: []flagon.Flag{{Key: "a"}}})
	ctx := context.Background()
	if c.Bool(ctx, "a", true) != false {
		t.Fatal("want false before the change")
	}
	if err := src.Set(flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Default: "on"}}}); err != nil {
		t.Fatal(err)
	}
	if c.Bool(ctx, "a", false) != true {
		t.Error("the client did not pick up the new snapshot")
	}
	// An invalid change is refused whole; the last good snapshot serves.
	if err := src.Set(flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Default: "maybe"}}}); err == nil {
		t.Fatal("Set accepted an invalid definition")
	}
	if c.Bool(ctx, "a", false) != true {
		t.Error("an invalid change replaced the last good snapshot")
	}
	c.Close()
	_ = src.Set(flagon.Definitions{Flags: []flagon.Flag{{Key: "a"}}})
	if c.Bool(ctx, "a", false) != true {
		t.Error("a closed client should keep its last snapshot")
	}
}

func TestStatus(t *testing.T) {
	c, src := newClient(t, typedDefs())
	if c.Status().Stale {
		t.Error("fresh source reported stale")
	}
	src.SetStale(errors.New("database down"))
	st := c.Status()
	if !st.Stale || st.Err == nil || st.Since.IsZero() {
		t.Errorf("Status = %+v, want stale with error and since", st)
	}
	if c.Bool(context.Background(), "b", false) != true {
		t.Error("a stale source must keep serving its last snapshot")
	}
}

func TestDebugLog(t *testing.T) {
	src, _ := flagon.NewMemorySource(flagon.Definitions{
		Audiences: []flagon.Audience{{Name: "staff", Clauses: []flagon.Clause{{Attribute: "is_staff", Op: "==", Values: []any{true}}}}},
		Flags: []flagon.Flag{
			{Key: "new-home-page", Rules: []flagon.Rule{{Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "on"}}}},
			{Key: "static-page", Default: "on"},
		},
	}, "")
	ctx := flagon.WithEvalContext(context.Background(), flagon.EvalContext{Key: "u", Attrs: map[string]any{"is_staff": true}})
	for _, tc := range []struct {
		name string
		on   bool
	}{{"LogEvaluations", true}, {"default", false}} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c := flagon.NewClient(src, &flagon.Options{Logger: logger, LogEvaluations: tc.on})
			c.Bool(ctx, "new-home-page", false)
			c.Bool(ctx, "static-page", false)
			for _, want := range []string{"flag new-home-page = true (TARGETING_MATCH, rule 1)", "flag static-page = true (STATIC)"} {
				if got := strings.Contains(buf.String(), want); got != tc.on {
					t.Errorf("LogEvaluations %v: debug log %q contains %q: %v, want %v", tc.on, buf.String(), want, got, tc.on)
				}
			}
		})
	}
}

var (
	handleOn      = flagon.NewBool("test-handle-on", false, "A handle the source defines")
	handleMissing = flagon.NewBool("test-handle-missing", true, "A handle the source lacks")
	handleString  = flagon.NewString("test-handle-string", "code", "A string handle")
	handleInt     = flagon.NewInt("test-handle-int", 3, "An int handle")
	handleFloat   = flagon.NewFloat("test-handle-float", 0.25, "A float handle")
)

func TestHandlesAndDefaultClient(t *testing.T) {
	ctx := context.Background()
	prev := flagon.Default()
	defer flagon.SetDefault(prev)

	flagon.SetDefault(nil)
	if handleOn.Enabled(ctx) != false || handleMissing.Enabled(ctx) != true || handleString.Get(ctx) != "code" ||
		handleInt.Get(ctx) != 3 || handleFloat.Get(ctx) != 0.25 {
		t.Error("without a default client, handles must serve their code defaults")
	}

	var buf bytes.Buffer
	src, _ := flagon.NewMemorySource(flagon.Definitions{Flags: []flagon.Flag{
		{Key: "test-handle-on", Default: "on"},
		{Key: "test-handle-string", Type: flagon.TypeString, Variants: []flagon.Variant{{Name: "a", Value: "source"}}},
		{Key: "test-handle-int", Type: flagon.TypeString, Variants: []flagon.Variant{{Name: "a", Value: "oops"}}},
	}}, "")
	c := flagon.NewClient(src, &flagon.Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	flagon.SetDefault(c)
	if !handleOn.Enabled(ctx) || !handleOn.EnabledIn(ctx, c) || handleOn.Key() != "test-handle-on" {
		t.Error("handle did not read the source through the default client")
	}
	if handleString.Get(ctx) != "source" || handleString.GetIn(ctx, c) != "source" {
		t.Error("string handle did not read the source")
	}
	if handleInt.Get(ctx) != 3 || handleFloat.GetIn(ctx, c) != 0.25 {
		t.Error("handles of flags missing or mistyped in the source must serve their code defaults")
	}
	if !flagon.Bool(ctx, "test-handle-on", false) {
		t.Error("package-level Bool did not use the default client")
	}
	logs := buf.String()
	for _, want := range []string{
		`flag \"test-handle-missing\" is declared in code but missing from the source`,
		`flag \"test-handle-int\" is declared in code as int but the source has string`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("start-up log lacks %q:\n%s", want, logs)
		}
	}
	// Reported once: a reload does not repeat it.
	buf.Reset()
	_ = src.Set(flagon.Definitions{Flags: []flagon.Flag{{Key: "test-handle-on"}}})
	if strings.Contains(buf.String(), "declared in code") {
		t.Errorf("missing flags reported again after a reload:\n%s", buf.String())
	}
}

func TestDeclarePanicsOnConflict(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("declaring a key with two types did not panic")
		}
	}()
	flagon.NewString("test-handle-on", "x", "conflicts with the bool handle")
}

// TestEvaluationAllocs guards the zero-allocation hot path.
func TestEvaluationAllocs(t *testing.T) {
	c, _ := newClient(t, flagon.Definitions{Flags: []flagon.Flag{{Key: "simple", Default: "on"}, targetedFlag("targeted")}})
	ctxs := benchContexts(64)
	ctxs = append(ctxs, flagon.WithScope(context.Background(), flagon.EvalContext{Key: "x"}, flagon.OverrideMap{"targeted": {Value: true}}))
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		ctx := ctxs[i%len(ctxs)]
		c.Bool(ctx, "simple", false)
		c.Bool(ctx, "targeted", false)
		c.BoolDetail(ctx, "targeted", false)
		c.Evaluate(ctx, "nope")
		for range c.All(ctx) {
		}
		i++
	})
	if allocs != 0 {
		t.Errorf("evaluation allocates %.1f times per run, want 0", allocs)
	}
}

// TestReloadRace evaluates from many goroutines while the source reloads;
// run it with -race.
func TestReloadRace(t *testing.T) {
	c, src := newClient(t, flagon.Definitions{Flags: []flagon.Flag{targetedFlag("f")}})
	ctxs := benchContexts(32)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx := ctxs[(g+i)%len(ctxs)]
				if _, r := c.BoolDetail(ctx, "f", false); r.ErrorCode != "" {
					t.Errorf("evaluation during reload failed: %+v", r)
					return
				}
				for range c.All(ctx) {
				}
			}
		}()
	}
	for i := range 200 {
		f := targetedFlag("f")
		f.Fallthrough.Split[0].Percent = float64(i % 100)
		f.Fallthrough.Split[1].Percent = float64(100 - i%100)
		if err := src.Set(flagon.Definitions{Flags: []flagon.Flag{f}}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

func ExampleClient() {
	src, err := flagon.NewMemorySource(flagon.Definitions{
		Audiences: []flagon.Audience{{Name: "staff", Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}}}},
		Flags: []flagon.Flag{{
			Key:   "new-home-page",
			Rules: []flagon.Rule{{Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "on"}}},
		}},
	}, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	client := flagon.NewClient(src, nil)
	defer client.Close()

	// Middleware does this once per request.
	ctx := flagon.WithEvalContext(context.Background(), flagon.EvalContext{
		Key:   "user-42",
		Attrs: map[string]any{"is_staff": true},
	})

	fmt.Println(client.Bool(ctx, "new-home-page", false))
	fmt.Println(client.Bool(ctx, "no-such-flag", false))
	_, why := client.BoolDetail(ctx, "no-such-flag", false)
	fmt.Println(why.ErrorCode)
	// Output:
	// true
	// false
	// FLAG_NOT_FOUND
}

// NewHomePage is declared once, next to the code it guards.
var NewHomePage = flagon.NewBool("new-home-page", false, "Expose the new home page")

func ExampleNewBool() {
	src, _ := flagon.NewMemorySource(flagon.Definitions{Flags: []flagon.Flag{{Key: "new-home-page", Default: "on"}}}, "")
	flagon.SetDefault(flagon.NewClient(src, nil))
	defer flagon.SetDefault(nil)

	if NewHomePage.Enabled(context.Background()) {
		fmt.Println("serving the new home page")
	}
	// Output: serving the new home page
}
