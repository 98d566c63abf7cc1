package ofprovider_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/ofprovider"
	"github.com/flagon/flagon/ofrep"
	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/memprovider"
)

// vendorFlags are the vendor's flags: what a LaunchDarkly or ConfigCat
// would hold, here in the SDK's in-memory provider.
func vendorFlags(limit int64) map[string]memprovider.InMemoryFlag {
	proOnly := func(f memprovider.InMemoryFlag, flat openfeature.FlattenedContext) (any, openfeature.ProviderResolutionDetail) {
		if flat["plan"] == "pro" {
			return true, openfeature.ProviderResolutionDetail{Variant: "on", Reason: openfeature.TargetingMatchReason}
		}
		return false, openfeature.ProviderResolutionDetail{Variant: "off", Reason: openfeature.DefaultReason}
	}
	return map[string]memprovider.InMemoryFlag{
		"new-home-page": {Key: "new-home-page", State: memprovider.Enabled, DefaultVariant: "off",
			Variants: map[string]any{"on": true, "off": false}, ContextEvaluator: &proOnly},
		"checkout": {Key: "checkout", State: memprovider.Enabled, DefaultVariant: "classic", Variants: map[string]any{"classic": "classic"}},
		"limit":    {Key: "limit", State: memprovider.Enabled, DefaultVariant: "v", Variants: map[string]any{"v": limit}},
		"theme":    {Key: "theme", State: memprovider.Enabled, DefaultVariant: "dark", Variants: map[string]any{"dark": map[string]any{"color": "black"}}},
		"mismatch": {Key: "mismatch", State: memprovider.Enabled, DefaultVariant: "v", Variants: map[string]any{"v": "yes"}},
		"banner":   {Key: "banner", State: memprovider.Enabled, DefaultVariant: "v", Variants: map[string]any{"v": "sale"}},
	}
}

// flagonDefs are Flagon's definitions of the same flags: descriptions,
// defaults and override policies, and a flag the vendor does not know.
func flagonDefs() flagon.Definitions {
	return flagon.Definitions{
		Audiences: []flagon.Audience{{Name: "staff", Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}}}},
		Flags: []flagon.Flag{
			{Key: "new-home-page", Description: "The new home page", Override: flagon.OverridePolicy{Who: flagon.WhoAnyone}},
			{Key: "checkout", Type: flagon.TypeString, Variants: []flagon.Variant{{Name: "express", Value: "express"}, {Name: "classic", Value: "classic"}}},
			{Key: "limit", Type: flagon.TypeInt, Variants: []flagon.Variant{{Name: "ten", Value: 10}}},
			{Key: "theme", Type: flagon.TypeObject, Variants: []flagon.Variant{{Name: "grey", Value: map[string]any{"color": "grey"}}}},
			{Key: "mismatch", Description: "The vendor has a string; Flagon says bool"},
			{Key: "banner", Type: flagon.TypeString, Variants: []flagon.Variant{{Name: "none", Value: "none"}, {Name: "sale", Value: "sale"}},
				Override: flagon.OverridePolicy{Variants: []string{"none"}}},
			{Key: "local-only", Rules: []flagon.Rule{{Audiences: []string{"staff"}, Serve: flagon.Serve{Variant: "on"}}}},
		},
	}
}

// NewHomePage is a typed handle, declared as applications declare them.
var NewHomePage = flagon.NewBool("new-home-page", false, "The new home page")

// countingProvider counts the vendor's boolean evaluations.
type countingProvider struct {
	*memprovider.InMemoryProvider
	bools atomic.Int64
}

func (p *countingProvider) BooleanEvaluation(ctx context.Context, flag string, def bool, flat openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	p.bools.Add(1)
	return p.InMemoryProvider.BooleanEvaluation(ctx, flag, def, flat)
}

func newVendorSource(t *testing.T, p openfeature.FeatureProvider) (*ofprovider.Source, *flagon.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	src, err := ofprovider.NewSource(ctx, p, flagonDefs(), &ofprovider.SourceOptions{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	client := flagon.NewClient(src, &flagon.Options{Logger: discard})
	t.Cleanup(func() {
		client.Close()
		src.Close()
	})
	return src, client
}

// request returns the context of a request by ec, with the request's own
// overrides o, as flagonhttp's middleware and then src.Middleware build it.
func request(src *ofprovider.Source, ec flagon.EvalContext, o flagon.Overrides) context.Context {
	return src.Context(flagon.WithScope(context.Background(), ec, o))
}

func TestSourceValues(t *testing.T) {
	vendor := memprovider.NewInMemoryProvider(vendorFlags(50))
	src, client := newVendorSource(t, vendor)
	pro := flagon.EvalContext{Key: "u1", Attrs: map[string]any{"plan": "pro", "is_staff": true}}
	free := flagon.EvalContext{Key: "u2", Attrs: map[string]any{"plan": "free"}}
	cookie := flagon.OverrideMap{"new-home-page": {Value: false, Source: "cookie"}, "limit": {Value: int64(10), Source: "cookie"}}
	tests := []struct {
		name   string
		ec     flagon.EvalContext
		o      flagon.Overrides
		key    string
		value  any
		reason flagon.Reason
		source string
	}{
		{"the vendor targets", pro, nil, "new-home-page", true, flagon.ReasonOverride, "openfeature:InMemoryProvider"},
		{"the vendor targets others", free, nil, "new-home-page", false, flagon.ReasonOverride, "openfeature:InMemoryProvider"},
		{"string", free, nil, "checkout", "classic", flagon.ReasonOverride, "openfeature:InMemoryProvider"},
		{"int", free, nil, "limit", int64(50), flagon.ReasonOverride, "openfeature:InMemoryProvider"},
		{"object", free, nil, "theme", map[string]any{"color": "black"}, flagon.ReasonOverride, "openfeature:InMemoryProvider"},
		{"the request's override wins", pro, cookie, "new-home-page", false, flagon.ReasonOverride, "cookie"},
		{"the request's override wins, int", pro, cookie, "limit", int64(10), flagon.ReasonOverride, "cookie"},
		{"the vendor has the wrong type: Flagon's default", pro, nil, "mismatch", false, flagon.ReasonStatic, ""},
		{"outside the override policy: Flagon's default", pro, nil, "banner", "none", flagon.ReasonStatic, ""},
		{"unknown to the vendor: Flagon's rules", pro, nil, "local-only", true, flagon.ReasonTargetingMatch, ""},
		{"unknown to the vendor: Flagon's rules, miss", free, nil, "local-only", false, flagon.ReasonDefault, ""},
	}
	for _, tt := range tests {
		r := client.Evaluate(request(src, tt.ec, tt.o), tt.key)
		if jsonText(r.Value) != jsonText(tt.value) || r.Reason != tt.reason || r.OverrideSource != tt.source {
			t.Errorf("%s: %s = %v (%s, %q), want %v (%s, %q)", tt.name, tt.key, r.Value, r.Reason, r.OverrideSource, tt.value, tt.reason, tt.source)
		}
	}

	// Typed handles and getters read the vendor through the same context.
	if !NewHomePage.EnabledIn(request(src, pro, nil), client) || NewHomePage.EnabledIn(request(src, free, nil), client) {
		t.Errorf("the typed handle does not follow the vendor")
	}
	if got := client.String(request(src, free, nil), "checkout", "?"); got != "classic" {
		t.Errorf("String = %q", got)
	}
	// Definitions stay Flagon's.
	if f, _ := src.Snapshot().Flag("new-home-page"); f.Description != "The new home page" || f.Override.Who != flagon.WhoAnyone {
		t.Errorf("definition %+v", f)
	}
	// Without the vendor layer, Flagon's own configuration serves.
	if client.Bool(flagon.WithEvalContext(context.Background(), pro), "new-home-page", true) {
		t.Errorf("without Context, the vendor was consulted")
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestSourceAsksOncePerRequest(t *testing.T) {
	vendor := &countingProvider{InMemoryProvider: memprovider.NewInMemoryProvider(vendorFlags(50))}
	src, client := newVendorSource(t, vendor)
	ctx := request(src, flagon.EvalContext{Key: "u1", Attrs: map[string]any{"plan": "pro"}}, nil)
	for range 5 {
		client.Bool(ctx, "new-home-page", false)
	}
	if n := vendor.bools.Load(); n != 1 {
		t.Errorf("the vendor was asked %d times in one request, want 1", n)
	}
	client.Bool(request(src, flagon.EvalContext{Key: "u2"}, nil), "new-home-page", false)
	if n := vendor.bools.Load(); n != 2 {
		t.Errorf("a second request: %d calls in all, want 2", n)
	}
}

func TestSourceFollowsVendorChanges(t *testing.T) {
	vendor := memprovider.NewInMemoryProvider(vendorFlags(50))
	src, client := newVendorSource(t, vendor)
	before := src.Snapshot().Revision()
	vendor.UpdateFlags(vendorFlags(60))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := flagon.WaitFor(ctx, src, func(s *flagon.Snapshot) bool { return s.Revision() != before }); err != nil {
		t.Fatalf("no new snapshot after the vendor's change: %v", err)
	}
	if n := client.Int(request(src, flagon.EvalContext{}, nil), "limit", 0); n != 60 {
		t.Errorf("limit after the change = %d, want 60", n)
	}
	// New definitions: a new revision, the vendor's values as before.
	defs := flagonDefs()
	defs.Flags[0].Description = "Changed"
	rev := src.Snapshot().Revision()
	if err := src.SetDefinitions(defs); err != nil {
		t.Fatal(err)
	}
	if f, _ := client.Snapshot().Flag("new-home-page"); f.Description != "Changed" || client.Snapshot().Revision() == rev {
		t.Errorf("new definitions not published: %q, revision %s", f.Description, client.Snapshot().Revision())
	}
	defs.Flags[0].Key = "Not Valid"
	if err := src.SetDefinitions(defs); err == nil || !strings.Contains(err.Error(), "Not Valid") {
		t.Errorf("invalid definitions: %v", err)
	}
	if _, ok := client.Snapshot().Flag("new-home-page"); !ok {
		t.Errorf("invalid definitions replaced the snapshot")
	}
}

// eventfulProvider is a vendor whose events the test sends.
type eventfulProvider struct {
	*memprovider.InMemoryProvider
	ch      chan openfeature.Event
	initErr error
}

func (p *eventfulProvider) EventChannel() <-chan openfeature.Event   { return p.ch }
func (p *eventfulProvider) Init(openfeature.EvaluationContext) error { return p.initErr }
func (p *eventfulProvider) Shutdown()                                {}

func (p *eventfulProvider) send(t openfeature.EventType, msg string) {
	p.ch <- openfeature.Event{ProviderName: "InMemoryProvider", EventType: t, ProviderEventDetails: openfeature.ProviderEventDetails{Message: msg}}
}

// waitStale waits until src's staleness is want. Status changes publish
// nothing, so it looks every few milliseconds, for at most 10 s.
func waitStale(t *testing.T, src flagon.StatusSource, want bool) flagon.Status {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st := src.Status(); st.Stale == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("Stale is not %v after 10 s", want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSourceStatus(t *testing.T) {
	vendor := &eventfulProvider{InMemoryProvider: memprovider.NewInMemoryProvider(vendorFlags(50)), ch: make(chan openfeature.Event, 4)}
	src, _ := newVendorSource(t, vendor)
	if src.Status().Stale {
		t.Fatalf("stale at start: %v", src.Status().Err)
	}
	vendor.send(openfeature.ProviderStale, "lost the streaming connection")
	if st := waitStale(t, src, true); !strings.Contains(st.Err.Error(), "lost the streaming connection") {
		t.Errorf("stale error %v", st.Err)
	}
	vendor.send(openfeature.ProviderReady, "")
	waitStale(t, src, false)
	vendor.send(openfeature.ProviderError, "bad SDK key")
	if st := waitStale(t, src, true); !strings.Contains(st.Err.Error(), "bad SDK key") {
		t.Errorf("error: %v", st.Err)
	}
}

func TestSourceInitFailure(t *testing.T) {
	vendor := &eventfulProvider{InMemoryProvider: memprovider.NewInMemoryProvider(vendorFlags(50)),
		ch: make(chan openfeature.Event, 4), initErr: errors.New("no network")}
	src, client := newVendorSource(t, vendor)
	st := src.Status()
	if !st.Stale || !strings.Contains(st.Err.Error(), "no network") {
		t.Fatalf("after a failed init: %+v", st)
	}
	// The SDK still asks a provider in ERROR; what it cannot answer,
	// Flagon's own rules decide.
	if ok := client.Bool(request(src, flagon.EvalContext{Attrs: map[string]any{"is_staff": true}}, nil), "local-only", false); !ok {
		t.Errorf("local-only: Flagon's rules did not decide")
	}
	vendor.send(openfeature.ProviderReady, "connected")
	waitStale(t, src, false)
	if n := client.Int(request(src, flagon.EvalContext{}, nil), "limit", 0); n != 50 {
		t.Errorf("limit = %d once the vendor is ready, want its 50", n)
	}
}

func TestSourceErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := ofprovider.NewSource(ctx, nil, flagonDefs(), nil); err == nil {
		t.Errorf("nil provider accepted")
	}
	defs := flagonDefs()
	defs.Flags[1].Default = "nope"
	_, err := ofprovider.NewSource(ctx, memprovider.NewInMemoryProvider(nil), defs, nil)
	if err == nil || !strings.Contains(err.Error(), `flag "checkout": default`) {
		t.Errorf("invalid definitions: %v", err)
	}
}

// TestOFREPOverVendor serves a vendor's flags over OFREP: an OFREP client
// sees the vendor's values, with the request's overrides first.
func TestOFREPOverVendor(t *testing.T) {
	vendor := memprovider.NewInMemoryProvider(vendorFlags(50))
	src, client := newVendorSource(t, vendor)
	h := ofrep.Handler(client, &ofrep.Options{
		Overrides: func(r *http.Request) flagon.Overrides {
			if r.Header.Get("Cookie") != "" {
				return flagon.OverrideMap{"new-home-page": {Value: false, Source: "cookie"}}
			}
			return nil
		},
		Layer: src.Overrides,
	})
	eval := func(cookie bool) map[string]any {
		r := httptest.NewRequest("POST", "/ofrep/v1/evaluate/flags/new-home-page", strings.NewReader(`{"context":{"targetingKey":"u1","plan":"pro"}}`))
		if cookie {
			r.Header.Set("Cookie", "flagon_overrides=…")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var got map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		return got
	}
	got := eval(false)
	if got["value"] != true || got["metadata"].(map[string]any)["overrideSource"] != "openfeature:InMemoryProvider" {
		t.Errorf("over OFREP: %v", got)
	}
	if got := eval(true); got["value"] != false || got["metadata"].(map[string]any)["overrideSource"] != "cookie" {
		t.Errorf("over OFREP with the cookie: %v", got)
	}
}

func TestDeclarations(t *testing.T) {
	defs := ofprovider.Declarations([]flagon.Declaration{
		{Key: "a", Type: flagon.TypeBool, Default: true, Description: "A"},
		{Key: "b", Type: flagon.TypeString, Default: "x"},
		{Key: "c", Type: flagon.TypeInt, Default: int64(3)},
	})
	snap, err := flagon.NewSnapshot(defs, flagon.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{"a": true, "b": "x", "c": int64(3)} {
		if r := snap.Evaluate(key, flagon.EvalContext{}, nil); r.Value != want {
			t.Errorf("%s = %v, want the declared default %v", key, r.Value, want)
		}
	}
	if f, _ := snap.Flag("a"); f.Description != "A" {
		t.Errorf("description %q", f.Description)
	}
	// The typed handles of this package.
	if _, err := flagon.NewSnapshot(ofprovider.Declarations(flagon.Declared()), flagon.SnapshotOptions{}); err != nil {
		t.Errorf("flagon.Declared(): %v", err)
	}
}
