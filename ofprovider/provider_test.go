package ofprovider_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/ofprovider"
	"github.com/open-feature/go-sdk/openfeature"
)

// The tests register providers with the SDK's global API, as applications
// do, so they do not run in parallel.

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func testDefs() flagon.Definitions {
	return flagon.Definitions{
		Audiences: []flagon.Audience{{Name: "staff", Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}}}},
		Flags: []flagon.Flag{
			{Key: "new-home-page", Rules: []flagon.Rule{{ID: "staff", Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "on"}}},
				Metadata: map[string]string{"owner": "web"}},
			{Key: "checkout", Type: flagon.TypeString,
				Variants:    []flagon.Variant{{Name: "express", Value: "express"}, {Name: "classic", Value: "classic"}},
				Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "express", Percent: 50}, {Variant: "classic", Percent: 50}}}},
			{Key: "limit", Type: flagon.TypeInt, Variants: []flagon.Variant{{Name: "ten", Value: 10}, {Name: "twenty", Value: 20}}},
			{Key: "ratio", Type: flagon.TypeFloat, Variants: []flagon.Variant{{Name: "quarter", Value: 0.25}}},
			{Key: "theme", Type: flagon.TypeObject, Variants: []flagon.Variant{{Name: "blue", Value: map[string]any{"color": "blue"}}}},
			{Key: "kill", Default: "on", Disabled: true},
		},
	}
}

// setup returns a flagon client over a memory source, and an OpenFeature
// client backed by it through the global API.
func setup(t *testing.T, opts *ofprovider.Options) (*flagon.Client, *flagon.MemorySource, *openfeature.Client, *ofprovider.Provider) {
	t.Helper()
	src, err := flagon.NewMemorySource(testDefs(), "")
	if err != nil {
		t.Fatal(err)
	}
	client := flagon.NewClient(src, &flagon.Options{Logger: discard})
	p := ofprovider.New(client, opts)
	if err := openfeature.SetProviderAndWait(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		openfeature.Shutdown()
		client.Close()
	})
	return client, src, openfeature.NewClient(t.Name()), p
}

// detail is what both clients say about one evaluation.
type detail struct {
	Value   any
	Variant string
	Reason  string
	Error   string
}

func (d detail) String() string { b, _ := json.Marshal(d); return string(b) }

// viaOpenFeature evaluates key with the OpenFeature client as typ.
func viaOpenFeature(ctx context.Context, of *openfeature.Client, key string, typ flagon.Type, ec openfeature.EvaluationContext) detail {
	var d detail
	var rd openfeature.ResolutionDetail
	switch typ {
	case flagon.TypeBool:
		x, _ := of.BooleanValueDetails(ctx, key, false, ec)
		d.Value, rd = x.Value, x.ResolutionDetail
	case flagon.TypeString:
		x, _ := of.StringValueDetails(ctx, key, "", ec)
		d.Value, rd = x.Value, x.ResolutionDetail
	case flagon.TypeInt:
		x, _ := of.IntValueDetails(ctx, key, 0, ec)
		d.Value, rd = x.Value, x.ResolutionDetail
	case flagon.TypeFloat:
		x, _ := of.FloatValueDetails(ctx, key, 0, ec)
		d.Value, rd = x.Value, x.ResolutionDetail
	case flagon.TypeObject:
		x, _ := of.ObjectValueDetails(ctx, key, map[string]any(nil), ec)
		d.Value, rd = x.Value, x.ResolutionDetail
	}
	d.Variant, d.Reason, d.Error = rd.Variant, string(rd.Reason), string(rd.ErrorCode)
	return d
}

// viaFlagon evaluates key with the flagon client's typed getter for typ.
func viaFlagon(ctx context.Context, c *flagon.Client, key string, typ flagon.Type) detail {
	var d detail
	var r flagon.Result
	switch typ {
	case flagon.TypeBool:
		d.Value, r = c.BoolDetail(ctx, key, false)
	case flagon.TypeString:
		d.Value, r = c.StringDetail(ctx, key, "")
	case flagon.TypeInt:
		d.Value, r = c.IntDetail(ctx, key, 0)
	case flagon.TypeFloat:
		d.Value, r = c.FloatDetail(ctx, key, 0)
	case flagon.TypeObject:
		d.Value, r = c.ObjectDetail(ctx, key, nil)
	}
	d.Reason, d.Error = string(ofprovider.Reason(r.Reason)), string(r.ErrorCode)
	if r.ErrorCode == flagon.ErrorNone {
		d.Variant = r.Variant
	}
	return d
}

var types = []flagon.Type{flagon.TypeBool, flagon.TypeString, flagon.TypeInt, flagon.TypeFloat, flagon.TypeObject}

// TestSameAsClient reads every flag as every type, for many contexts, with
// and without overrides, through the SDK and through the flagon client:
// values, variants, reasons and error codes agree.
func TestSameAsClient(t *testing.T) {
	client, _, of, _ := setup(t, nil)
	overrides := flagon.OverrideMap{
		"new-home-page": {Value: true, Source: "cookie"},
		"checkout":      {Value: "classic", Source: "user"},
		"limit":         {Value: int64(20), Source: "cookie"},
	}
	keys := append(client.Snapshot().Keys(), "no-such-flag")
	n := 0
	for i := range 30 {
		ec := flagon.EvalContext{Attrs: map[string]any{"is_staff": i%3 == 0, "country": "NL"}}
		if i%5 != 0 {
			ec.Key = "user-" + string(rune('a'+i))
		}
		for _, o := range []flagon.Overrides{nil, overrides} {
			fctx := flagon.WithScope(context.Background(), ec, o)
			// The OpenFeature context, and the overrides in the
			// transaction context, as an application sets them.
			octx := context.Background()
			if o != nil {
				octx = ofprovider.WithOverrides(octx, o)
			}
			oec := openfeature.NewEvaluationContext(ec.Key, ec.Attrs)
			for _, key := range keys {
				for _, typ := range types {
					want := viaFlagon(fctx, client, key, typ)
					got := viaOpenFeature(octx, of, key, typ, oec)
					if got.String() != want.String() {
						t.Errorf("%s as %s for %+v, overrides %v:\n OpenFeature %v\n flagon      %v", key, typ, ec, o != nil, got, want)
					}
					n++
				}
			}
		}
	}
	if n < 1000 {
		t.Errorf("only %d comparisons", n)
	}
}

func TestErrors(t *testing.T) {
	_, _, of, _ := setup(t, nil)
	ctx := context.Background()
	ec := openfeature.NewEvaluationContext("user-1", nil)
	s, err := of.StringValueDetails(ctx, "new-home-page", "dflt", ec)
	if s.Value != "dflt" || s.ErrorCode != openfeature.TypeMismatchCode || err == nil {
		t.Errorf("a bool flag read as a string: %+v, %v", s, err)
	}
	i, _ := of.IntValueDetails(ctx, "ratio", 7, ec)
	if i.Value != 7 || i.ErrorCode != openfeature.TypeMismatchCode {
		t.Errorf("a float flag read as an int: %+v", i)
	}
	o, _ := of.ObjectValueDetails(ctx, "checkout", "dflt", ec)
	if o.Value != "dflt" || o.ErrorCode != openfeature.TypeMismatchCode {
		t.Errorf("a string flag read as an object: %+v", o)
	}
	b, err := of.BooleanValueDetails(ctx, "no-such-flag", true, ec)
	if b.Value != true || b.ErrorCode != openfeature.FlagNotFoundCode || b.Reason != openfeature.ErrorReason || err == nil {
		t.Errorf("an unknown flag: %+v, %v", b, err)
	}
	c, _ := of.StringValueDetails(ctx, "checkout", "dflt", openfeature.NewTargetlessEvaluationContext(map[string]any{"is_staff": true}))
	if c.Value != "dflt" || c.ErrorCode != openfeature.TargetingKeyMissingCode {
		t.Errorf("a split without a targeting key: %+v", c)
	}
}

func TestMetadata(t *testing.T) {
	_, _, of, _ := setup(t, nil)
	ctx := ofprovider.WithOverrides(context.Background(), flagon.OverrideMap{"limit": {Value: int64(20), Source: "cookie"}})
	d, _ := of.BooleanValueDetails(ctx, "new-home-page", false, openfeature.NewEvaluationContext("u", map[string]any{"is_staff": true}))
	if owner, _ := d.FlagMetadata.GetString("owner"); owner != "web" {
		t.Errorf("flag metadata: %v", d.FlagMetadata)
	}
	if rule, _ := d.FlagMetadata.GetString("ruleId"); rule != "staff" {
		t.Errorf("rule: %v", d.FlagMetadata)
	}
	l, _ := of.IntValueDetails(ctx, "limit", 0, openfeature.NewEvaluationContext("u", nil))
	ov, _ := l.FlagMetadata.GetBool("override")
	src, _ := l.FlagMetadata.GetString("overrideSource")
	if l.Value != 20 || l.Variant != "twenty" || l.Reason != openfeature.TargetingMatchReason || !ov || src != "cookie" {
		t.Errorf("an override: %+v", l)
	}
}

// TestFlagonScope checks the two ways a request's flagon scope reaches
// OpenFeature: the provider reads the flagon scope of the context it is
// given when the OpenFeature context is empty, and Middleware copies it
// into the transaction context.
func TestFlagonScope(t *testing.T) {
	_, _, of, _ := setup(t, nil)
	staff := flagon.EvalContext{Key: "u1", Attrs: map[string]any{"is_staff": true}}
	ctx := flagon.WithScope(context.Background(), staff, flagon.OverrideMap{"limit": {Value: int64(20), Source: "cookie"}})
	if on, _ := of.BooleanValue(ctx, "new-home-page", false, openfeature.EvaluationContext{}); !on {
		t.Errorf("the flagon scope's context was not used")
	}
	if n, _ := of.IntValue(ctx, "limit", 0, openfeature.EvaluationContext{}); n != 20 {
		t.Errorf("the flagon scope's overrides were not used: %d", n)
	}
	// An OpenFeature context replaces the flagon scope's context; the
	// scope's overrides still apply.
	if on, _ := of.BooleanValue(ctx, "new-home-page", false, openfeature.NewEvaluationContext("u2", nil)); on {
		t.Errorf("the OpenFeature context did not take precedence")
	}
	if n, _ := of.IntValue(ctx, "limit", 0, openfeature.NewEvaluationContext("u2", nil)); n != 20 {
		t.Errorf("overrides lost: %d", n)
	}

	var got []any
	h := ofprovider.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A handler that knows only OpenFeature; the flagon scope below
		// went into the transaction context.
		on, _ := of.BooleanValue(r.Context(), "new-home-page", false, openfeature.EvaluationContext{})
		n, _ := of.IntValue(r.Context(), "limit", 0, openfeature.EvaluationContext{})
		got = []any{on, n}
	}))
	r := httptest.NewRequest("GET", "/", nil)
	h.ServeHTTP(httptest.NewRecorder(), r.WithContext(ctx))
	if b, _ := json.Marshal(got); string(b) != "[true,20]" {
		t.Errorf("through Middleware: %s, want [true,20]", b)
	}
}

// events collects the SDK's provider events for one client.
type events chan openfeature.EventDetails

func listen(of *openfeature.Client, types ...openfeature.EventType) events {
	ch := make(events, 32)
	fn := func(d openfeature.EventDetails) { ch <- d }
	for _, t := range types {
		of.AddHandler(t, &fn)
	}
	return ch
}

func (ch events) next(t *testing.T, want openfeature.EventType, ofc *openfeature.Client) openfeature.EventDetails {
	t.Helper()
	select {
	case d := <-ch:
		if got := eventType(d); got != want {
			t.Fatalf("event %s (%s), want %s", got, d.Message, want)
		}
		return d
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s event in 10 s; state %s", want, ofc.State())
	}
	return openfeature.EventDetails{}
}

// all waits for one event of each of the given types, in any order.
func (ch events) all(t *testing.T, ofc *openfeature.Client, want ...openfeature.EventType) {
	t.Helper()
	missing := map[openfeature.EventType]bool{}
	for _, w := range want {
		missing[w] = true
	}
	for len(missing) > 0 {
		select {
		case d := <-ch:
			if !missing[eventType(d)] {
				t.Fatalf("event %s (%s), want one of %v", eventType(d), d.Message, missing)
			}
			delete(missing, eventType(d))
		case <-time.After(10 * time.Second):
			t.Fatalf("no %v events in 10 s; state %s", missing, ofc.State())
		}
	}
}

// eventType infers an event's type from its message, which the provider
// writes for each type.
func eventType(d openfeature.EventDetails) openfeature.EventType {
	switch {
	case d.FlagChanges != nil:
		return openfeature.ProviderConfigChange
	case len(d.Message) >= 4 && d.Message[:4] == "the " && d.Message != "the flag source is fresh again":
		return openfeature.ProviderStale
	}
	return openfeature.ProviderReady
}

func TestEvents(t *testing.T) {
	client, src, of, _ := setup(t, &ofprovider.Options{StatusInterval: 5 * time.Millisecond})
	if s := of.State(); s != openfeature.ReadyState {
		t.Fatalf("state after SetProviderAndWait: %s", s)
	}
	ch := make(events, 32)
	changed := make(chan int64, 8)
	onChange := func(d openfeature.EventDetails) {
		// A handler reading flags sees the new configuration.
		n, _ := of.IntValue(context.Background(), "limit", 0, openfeature.EvaluationContext{})
		changed <- n
		ch <- d
	}
	onOther := func(d openfeature.EventDetails) { ch <- d }
	of.AddHandler(openfeature.ProviderConfigChange, &onChange)
	of.AddHandler(openfeature.ProviderStale, &onOther)
	of.AddHandler(openfeature.ProviderReady, &onOther)
	ch.next(t, openfeature.ProviderReady, of) // a handler added to a ready client runs at once

	first := client.Snapshot().Revision()
	defs := testDefs()
	defs.Flags[2].Variants[0].Value = 11
	if err := src.Set(defs); err != nil {
		t.Fatal(err)
	}
	d := ch.next(t, openfeature.ProviderConfigChange, of)
	if n := <-changed; n != 11 {
		t.Errorf("the change handler read limit = %d, want 11", n)
	}
	if d.EventMetadata["previousRevision"] != first || d.EventMetadata["revision"] != client.Snapshot().Revision() || !slices.Equal(d.FlagChanges, []string{"limit"}) {
		t.Errorf("change event %+v", d)
	}

	src.SetStale(errors.New("database unreachable"))
	d = ch.next(t, openfeature.ProviderStale, of)
	if d.Message != "the flag source is stale: database unreachable" || of.State() != openfeature.StaleState {
		t.Errorf("stale: %q, state %s", d.Message, of.State())
	}
	// Evaluation goes on with the last snapshot.
	if n, err := of.IntValue(context.Background(), "limit", 0, openfeature.EvaluationContext{}); n != 11 || err != nil {
		t.Errorf("while stale: %d, %v", n, err)
	}
	// Recovery with the same flags: READY.
	if err := src.Set(defs); err != nil {
		t.Fatal(err)
	}
	ch.next(t, openfeature.ProviderReady, of)
	if s := of.State(); s != openfeature.ReadyState {
		t.Errorf("state after recovery: %s", s)
	}
	// Stale, then recovery with new flags: CONFIGURATION_CHANGED.
	src.SetStale(errors.New("again"))
	ch.next(t, openfeature.ProviderStale, of)
	if err := src.Set(testDefs()); err != nil {
		t.Fatal(err)
	}
	// The SDK runs each handler on a goroutine of its own, so the two
	// events may arrive in either order.
	ch.all(t, of, openfeature.ProviderReady, openfeature.ProviderConfigChange)
	<-changed
	if s := of.State(); s != openfeature.ReadyState {
		t.Errorf("state after recovery with a change: %s", s)
	}
}

// lateSource delivers its first snapshot when the test says.
type lateSource struct{ flagon.Publisher }

func TestInitTimeoutThenReady(t *testing.T) {
	var src lateSource
	client := flagon.NewClient(&src, &flagon.Options{Logger: discard})
	defer client.Close()
	p := ofprovider.New(client, &ofprovider.Options{InitTimeout: 20 * time.Millisecond})
	err := openfeature.SetProviderAndWait(p)
	t.Cleanup(openfeature.Shutdown)
	var ie *openfeature.ProviderInitError
	if !errors.As(err, &ie) || ie.ErrorCode != openfeature.ProviderNotReadyCode {
		t.Fatalf("SetProviderAndWait: %v, want a PROVIDER_NOT_READY init error", err)
	}
	of := openfeature.NewClient(t.Name())
	if s := of.State(); s != openfeature.ErrorState {
		t.Errorf("state %s, want ERROR", s)
	}
	ch := listen(of, openfeature.ProviderReady)
	src.Publish(flagon.MustSnapshot(testDefs(), flagon.SnapshotOptions{}))
	ch.next(t, openfeature.ProviderReady, of)
	if of.State() != openfeature.ReadyState {
		t.Errorf("state %s, want READY", of.State())
	}
	if n, err := of.IntValue(context.Background(), "limit", 0, openfeature.EvaluationContext{}); n != 10 || err != nil {
		t.Errorf("after the first snapshot: %d, %v", n, err)
	}
}
