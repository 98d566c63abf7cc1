package otelhook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/ofprovider"
	"github.com/flagon/flagon/otelhook"
	"github.com/open-feature/go-sdk/openfeature"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// The tests register providers with the SDK's global API, each under a
// domain of its own, so they do not run in parallel.

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func testDefs() flagon.Definitions {
	return flagon.Definitions{
		Flags: []flagon.Flag{
			{Key: "new-home-page",
				Rules: []flagon.Rule{{ID: "staff", Clauses: []flagon.Clause{
					{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}}, Serve: flagon.Serve{Variant: "on"}}},
				Metadata: map[string]string{"flagSetId": "web", "version": "3"}},
			{Key: "checkout", Type: flagon.TypeString,
				Variants:    []flagon.Variant{{Name: "express", Value: "express"}, {Name: "classic", Value: "classic"}},
				Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "express", Percent: 100}}}},
			{Key: "limit", Type: flagon.TypeInt, Variants: []flagon.Variant{{Name: "ten", Value: 10}, {Name: "twenty", Value: 20}}},
			{Key: "kill", Default: "on", Disabled: true},
			{Key: "ratio", Type: flagon.TypeFloat, Variants: []flagon.Variant{{Name: "quarter", Value: 0.25}}},
			{Key: "theme", Type: flagon.TypeObject, Variants: []flagon.Variant{{Name: "blue", Value: map[string]any{"color": "blue"}}}},
		},
	}
}

// env is an OpenFeature client backed by Flagon, with the hook, and what
// the hook records into.
type env struct {
	of     *openfeature.Client
	tracer trace.Tracer
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
}

func setup(t testing.TB, opts *otelhook.Options, more ...openfeature.Hook) *env {
	t.Helper()
	src, err := flagon.NewMemorySource(testDefs(), "")
	if err != nil {
		t.Fatal(err)
	}
	client := flagon.NewClient(src, &flagon.Options{Logger: discard})
	domain := t.Name()
	if err := openfeature.SetNamedProviderAndWait(domain, ofprovider.New(client, nil)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		openfeature.Shutdown()
		client.Close()
	})

	e := &env{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	e.tracer = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(e.spans)).Tracer("test")
	var o otelhook.Options
	if opts != nil {
		o = *opts
	}
	o.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(e.reader))
	hook, err := otelhook.New(&o)
	if err != nil {
		t.Fatal(err)
	}
	e.of = openfeature.NewClient(domain)
	e.of.AddHooks(append(more, hook)...)
	return e
}

// event is a span event as a string: its name and sorted attributes.
func event(name string, attrs ...attribute.KeyValue) string {
	return name + " " + point(attrs...)
}

// events returns the events of the one span that ended.
func (e *env) events(t *testing.T) []string {
	t.Helper()
	ended := e.spans.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans ended, want 1", len(ended))
	}
	var out []string
	for _, ev := range ended[0].Events() {
		out = append(out, event(ev.Name, ev.Attributes...))
	}
	return out
}

// points returns the counter's data points: count by attribute set.
func (e *env) points(t *testing.T) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sm.Scope.Name != otelhook.ScopeName || m.Name != otelhook.MetricName {
				t.Errorf("unexpected metric %s/%s", sm.Scope.Name, m.Name)
				continue
			}
			if m.Unit != "{evaluation}" {
				t.Errorf("unit %q", m.Unit)
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok || !sum.IsMonotonic {
				t.Fatalf("%s is %T (monotonic %v), want a monotonic Sum[int64]", m.Name, m.Data, ok && sum.IsMonotonic)
			}
			for _, dp := range sum.DataPoints {
				out[dp.Attributes.Encoded(attribute.DefaultEncoder())] += dp.Value
			}
		}
	}
	return out
}

// point is the key of a data point in points' result.
func point(attrs ...attribute.KeyValue) string {
	set := attribute.NewSet(attrs...)
	return set.Encoded(attribute.DefaultEncoder())
}

func diff(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %s\n want %s", what, strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

func diffPoints(t *testing.T, got, want map[string]int64) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("data points:\n got  %v\n want %v", got, want)
	}
}

var (
	key      = attribute.Key("feature_flag.key").String
	provider = attribute.String("feature_flag.provider.name", "flagon")
	variant  = attribute.Key("feature_flag.result.variant").String
	reason   = attribute.Key("feature_flag.result.reason").String
	errType  = attribute.Key("error.type").String
	errMsg   = attribute.Key("feature_flag.error.message").String
	value    = attribute.Key("feature_flag.result.value")
	ctxID    = attribute.Key("feature_flag.context.id").String
	setID    = attribute.String("feature_flag.set.id", "web")
	version  = attribute.String("feature_flag.version", "3")
)

func TestEvaluations(t *testing.T) {
	e := setup(t, nil)
	ctx, span := e.tracer.Start(context.Background(), "request")
	staff := openfeature.NewEvaluationContext("user-1", map[string]any{"is_staff": true})
	guest := openfeature.NewEvaluationContext("user-2", nil)

	e.of.BooleanValue(ctx, "new-home-page", false, staff)
	e.of.BooleanValue(ctx, "new-home-page", false, staff)
	e.of.BooleanValue(ctx, "new-home-page", false, guest)
	e.of.StringValue(ctx, "checkout", "classic", guest)
	e.of.IntValue(ctx, "limit", 0, guest)
	e.of.BooleanValue(ctx, "kill", false, guest)
	if _, err := e.of.BooleanValueDetails(ctx, "no-such-flag", true, guest); err == nil {
		t.Error("an unknown flag: no error")
	}
	e.of.BooleanValue(ctx, "limit", false, guest) // an int flag read as a bool
	span.End()
	// Outside the span, only the counter.
	e.of.BooleanValue(context.Background(), "kill", false, guest)

	on := event(otelhook.EventName, key("new-home-page"), provider, variant("on"), reason("targeting_match"), setID, version)
	diff(t, "span events", e.events(t), []string{
		on, on,
		event(otelhook.EventName, key("new-home-page"), provider, variant("off"), reason("default"), setID, version),
		event(otelhook.EventName, key("checkout"), provider, variant("express"), reason("split")),
		event(otelhook.EventName, key("limit"), provider, variant("ten"), reason("static")),
		event(otelhook.EventName, key("kill"), provider, variant("on"), reason("disabled")),
		event(otelhook.EventName, key("no-such-flag"), provider, reason("error"), errType("flag_not_found"),
			errMsg(`flag "no-such-flag": flag not found`)),
		event(otelhook.EventName, key("limit"), provider, reason("error"), errType("type_mismatch"),
			errMsg(`flag "limit" has int values, not bool`)),
	})
	diffPoints(t, e.points(t), map[string]int64{
		point(key("new-home-page"), provider, variant("on"), reason("targeting_match")): 2,
		point(key("new-home-page"), provider, variant("off"), reason("default")):        1,
		point(key("checkout"), provider, variant("express"), reason("split")):           1,
		point(key("limit"), provider, variant("ten"), reason("static")):                 1,
		point(key("kill"), provider, variant("on"), reason("disabled")):                 2,
		point(key("other"), provider, reason("error"), errType("flag_not_found")):       1,
		point(key("limit"), provider, reason("error"), errType("type_mismatch")):        1,
	})
}

func TestMaxFlagKeys(t *testing.T) {
	for _, tc := range []struct {
		max  int
		want map[string]int64
	}{
		{2, map[string]int64{
			point(key("new-home-page"), provider, variant("off"), reason("default")): 2,
			point(key("checkout"), provider, variant("express"), reason("split")):    1,
			// Keys past the first two, without their variants.
			point(key("other"), provider, reason("static")):   1,
			point(key("other"), provider, reason("disabled")): 1,
			// The unknown flag took no place: kill, after it, is still other.
			point(key("other"), provider, reason("error"), errType("flag_not_found")): 1,
		}},
		{-1, map[string]int64{
			point(key("other"), provider, reason("default")):                          2,
			point(key("other"), provider, reason("static")):                           1,
			point(key("other"), provider, reason("split")):                            1,
			point(key("other"), provider, reason("disabled")):                         1,
			point(key("other"), provider, reason("error"), errType("flag_not_found")): 1,
		}},
	} {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			e := setup(t, &otelhook.Options{MaxFlagKeys: tc.max})
			ctx, span := e.tracer.Start(context.Background(), "request")
			ec := openfeature.NewEvaluationContext("user-1", nil)
			e.of.BooleanValue(ctx, "no-such-flag", false, ec)
			e.of.BooleanValue(ctx, "new-home-page", false, ec)
			e.of.StringValue(ctx, "checkout", "", ec)
			e.of.IntValue(ctx, "limit", 0, ec)
			e.of.BooleanValue(ctx, "kill", false, ec)
			e.of.BooleanValue(ctx, "new-home-page", false, ec)
			span.End()
			diffPoints(t, e.points(t), tc.want)
			// Span events keep every key.
			var keys []string
			for _, ev := range e.spans.Ended()[0].Events() {
				for _, kv := range ev.Attributes {
					if kv.Key == "feature_flag.key" {
						keys = append(keys, kv.Value.AsString())
					}
				}
			}
			diff(t, "event keys", keys, []string{"no-such-flag", "new-home-page", "checkout", "limit", "kill", "new-home-page"})
		})
	}
}

func TestContextIDAndValue(t *testing.T) {
	e := setup(t, &otelhook.Options{ContextID: true, Value: true})
	ctx, span := e.tracer.Start(context.Background(), "request")
	e.of.IntValue(ctx, "limit", 0, openfeature.NewEvaluationContext("user-1", nil))
	e.of.StringValue(ctx, "checkout", "", openfeature.NewEvaluationContext("user-2", nil))
	e.of.BooleanValue(ctx, "no-such-flag", false, openfeature.NewEvaluationContext("user-3", nil))
	e.of.BooleanValue(ctx, "kill", false, openfeature.NewTargetlessEvaluationContext(nil))
	e.of.FloatValue(ctx, "ratio", 0, openfeature.EvaluationContext{})
	e.of.ObjectValue(ctx, "theme", nil, openfeature.EvaluationContext{})
	span.End()
	diff(t, "span events", e.events(t), []string{
		event(otelhook.EventName, key("limit"), provider, variant("ten"), reason("static"), value.Int64(10), ctxID("user-1")),
		event(otelhook.EventName, key("checkout"), provider, variant("express"), reason("split"), value.String("express"), ctxID("user-2")),
		// No value on errors: it is only the caller's default.
		event(otelhook.EventName, key("no-such-flag"), provider, reason("error"), errType("flag_not_found"),
			errMsg(`flag "no-such-flag": flag not found`), ctxID("user-3")),
		event(otelhook.EventName, key("kill"), provider, variant("on"), reason("disabled"), value.Bool(true)),
		event(otelhook.EventName, key("ratio"), provider, variant("quarter"), reason("static"), value.Float64(0.25)),
		event(otelhook.EventName, key("theme"), provider, variant("blue"), reason("static"), value.String(`{"color":"blue"}`)),
	})
	// Neither is a metric attribute.
	for p := range e.points(t) {
		if strings.Contains(p, "context.id") || strings.Contains(p, "result.value") {
			t.Errorf("data point %s", p)
		}
	}
}

// failing is a hook whose Before fails.
type failing struct{ openfeature.UnimplementedHook }

func (failing) Before(context.Context, openfeature.HookContext, openfeature.HookHints) (*openfeature.EvaluationContext, error) {
	return nil, errors.New("no")
}

// TestBeforeHookFails pins down an evaluation another hook stopped: the
// SDK gives Finally no reason and no error code.
func TestBeforeHookFails(t *testing.T) {
	e := setup(t, nil, failing{})
	ctx, span := e.tracer.Start(context.Background(), "request")
	if _, err := e.of.BooleanValueDetails(ctx, "kill", false, openfeature.EvaluationContext{}); err == nil {
		t.Error("no error")
	}
	span.End()
	diff(t, "span events", e.events(t), []string{
		event(otelhook.EventName, key("kill"), provider, reason("unknown"), value.Bool(false)),
	})
	diffPoints(t, e.points(t), map[string]int64{point(key("kill"), provider, reason("unknown")): 1})
}

// TestNotRecording checks that a span that does not record gets nothing,
// and the counter still counts.
func TestNotRecording(t *testing.T) {
	e := setup(t, nil)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()), sdktrace.WithSpanProcessor(e.spans))
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	e.of.BooleanValue(ctx, "kill", false, openfeature.EvaluationContext{})
	span.End()
	if n := len(e.spans.Ended()); n != 0 {
		t.Errorf("%d spans recorded", n)
	}
	diffPoints(t, e.points(t), map[string]int64{point(key("kill"), provider, variant("on"), reason("disabled")): 1})
}

// TestMaxFlagKeysConcurrent evaluates many keys at once: exactly
// MaxFlagKeys of them are named.
func TestMaxFlagKeysConcurrent(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	hook, err := otelhook.New(&otelhook.Options{MaxFlagKeys: 10, MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 40 {
				hc := openfeature.NewHookContext(fmt.Sprintf("flag-%d", (g+i)%40), openfeature.Boolean, false,
					openfeature.NewClientMetadata("test"), openfeature.Metadata{Name: "test"}, openfeature.EvaluationContext{})
				hook.Finally(context.Background(), hc, openfeature.InterfaceEvaluationDetails{
					EvaluationDetails: openfeature.EvaluationDetails{ResolutionDetail: openfeature.ResolutionDetail{Reason: openfeature.StaticReason}},
				}, openfeature.HookHints{})
			}
		})
	}
	wg.Wait()
	e := &env{reader: reader}
	named, total := 0, int64(0)
	for p, n := range e.points(t) {
		total += n
		if !strings.Contains(p, "feature_flag.key=other") {
			named++
		}
	}
	if named != 10 || total != 16*40 {
		t.Errorf("%d keys named, %d evaluations counted; want 10 and %d", named, total, 16*40)
	}
}
