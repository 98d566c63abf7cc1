package otelhook

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/open-feature/go-sdk/openfeature"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Names the hook records under.
const (
	// EventName is the name of the span event for one evaluation, as the
	// feature-flag semantic conventions define it.
	EventName = "feature_flag.evaluation"
	// MetricName is the name of the counter of evaluations. The
	// conventions define an event, not a metric; the name is in Flagon's
	// namespace so that it cannot clash with a metric they define later.
	MetricName = "flagon.feature_flag.evaluations"
	// OtherKey stands for the flag key on the counter once MaxFlagKeys
	// keys have been seen, and for keys of flags that were not found.
	OtherKey = "other"
	// ScopeName is the instrumentation scope of the hook's meter.
	ScopeName = "github.com/flagon/flagon/otelhook"
)

// flagNotFound is error.type for a flag that does not exist.
var flagNotFound = strings.ToLower(string(openfeature.FlagNotFoundCode))

// DefaultMaxFlagKeys is how many distinct flag keys the counter names for
// the zero Options.
const DefaultMaxFlagKeys = 1000

// Options configures a Hook. The zero value is a valid configuration.
type Options struct {
	// MeterProvider provides the meter of the counter; nil means the
	// global one (otel.GetMeterProvider), which follows a provider set
	// after New. Span events go to the span in each evaluation's context,
	// whichever TracerProvider made it, so there is no TracerProvider.
	MeterProvider metric.MeterProvider
	// MaxFlagKeys bounds the distinct values of feature_flag.key on the
	// counter: the first MaxFlagKeys keys evaluated keep their name, and
	// later ones are counted as OtherKey, without their variant. A key
	// whose flag was not found never takes a place: it is counted as
	// OtherKey with error.type flag_not_found. Zero means
	// DefaultMaxFlagKeys; negative, every key is OtherKey. Span events
	// always carry the real key.
	MaxFlagKeys int
	// ContextID adds feature_flag.context.id to span events: the
	// "contextId" string in the flag metadata when the provider sets one,
	// else the evaluation context's targeting key. It is off by default
	// because a targeting key is often a user's identifier, personal
	// data. It is never a metric attribute.
	ContextID bool
	// Value adds feature_flag.result.value to span events of evaluations
	// that have a variant. Without it the value is recorded only for a
	// successful evaluation with no variant, as the conventions require:
	// values can be large or sensitive, and a variant names them.
	Value bool
}

// Hook is an OpenFeature hook that records each flag evaluation as a
// span event and on a counter. Create it with New; it is safe for
// concurrent use.
//
// It records in the Finally stage, which the SDK runs once for every
// evaluation with its final details: success, the provider's error, or
// the SDK's own (provider not ready, fatal). An evaluation cut short by
// another hook's Before error reaches Finally with empty details and is
// recorded with reason "unknown" and no error.type.
type Hook struct {
	opts    Options
	max     int
	counter metric.Int64Counter

	keys  sync.Map   // flag key → struct{}: the keys the counter names
	mu    sync.Mutex // serializes adding to keys
	nkeys int        // len(keys), under mu
	full  atomic.Bool
}

var _ openfeature.Hook = (*Hook)(nil)

// New returns a hook configured by opts, which may be nil. It fails only
// when the meter refuses the counter.
func New(opts *Options) (*Hook, error) {
	h := &Hook{}
	if opts != nil {
		h.opts = *opts
	}
	switch {
	case h.opts.MaxFlagKeys == 0:
		h.max = DefaultMaxFlagKeys
	case h.opts.MaxFlagKeys > 0:
		h.max = h.opts.MaxFlagKeys
	}
	mp := h.opts.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL))
	c, err := meter.Int64Counter(MetricName,
		metric.WithUnit("{evaluation}"),
		metric.WithDescription("Feature flag evaluations by flag key, variant, reason, provider and error type."))
	if err != nil {
		return nil, fmt.Errorf("otelhook: create counter %s: %w", MetricName, err)
	}
	h.counter = c
	return h, nil
}

// Before implements openfeature.Hook; it does nothing.
func (h *Hook) Before(context.Context, openfeature.HookContext, openfeature.HookHints) (*openfeature.EvaluationContext, error) {
	return nil, nil
}

// After implements openfeature.Hook; it does nothing, as Finally records
// successful evaluations too.
func (h *Hook) After(context.Context, openfeature.HookContext, openfeature.InterfaceEvaluationDetails, openfeature.HookHints) error {
	return nil
}

// Error implements openfeature.Hook; it does nothing. The SDK's error
// here carries no error code, and Finally, which follows, has it.
func (h *Hook) Error(context.Context, openfeature.HookContext, error, openfeature.HookHints) {}

// Finally implements openfeature.Hook: it records the evaluation.
func (h *Hook) Finally(ctx context.Context, hc openfeature.HookContext, d openfeature.InterfaceEvaluationDetails, _ openfeature.HookHints) {
	reason, errType := outcome(&d)
	provider := hc.ProviderMetadata().Name
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent(EventName, trace.WithAttributes(h.eventAttributes(hc, &d, provider, reason, errType)...))
	}

	key, named := h.metricKey(hc.FlagKey(), errType)
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, semconv.FeatureFlagKey(key), semconv.FeatureFlagResultReasonKey.String(reason))
	if provider != "" {
		attrs = append(attrs, semconv.FeatureFlagProviderName(provider))
	}
	if named && d.Variant != "" {
		attrs = append(attrs, semconv.FeatureFlagResultVariant(d.Variant))
	}
	if errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
	}
	h.counter.Add(ctx, 1, metric.WithAttributes(attrs...))
}

// outcome returns the convention's reason (lower case, "unknown" when the
// provider gave none) and error type ("" on success) of d.
func outcome(d *openfeature.InterfaceEvaluationDetails) (reason, errType string) {
	reason = strings.ToLower(string(d.Reason))
	if reason == "" {
		reason = strings.ToLower(string(openfeature.UnknownReason))
	}
	switch {
	case d.ErrorCode != "":
		errType = strings.ToLower(string(d.ErrorCode))
	case d.Reason == openfeature.ErrorReason:
		errType = strings.ToLower(string(openfeature.GeneralCode))
	}
	return reason, errType
}

// eventAttributes returns the attributes of the span event for d.
func (h *Hook) eventAttributes(hc openfeature.HookContext, d *openfeature.InterfaceEvaluationDetails, provider, reason, errType string) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs, semconv.FeatureFlagKey(hc.FlagKey()), semconv.FeatureFlagResultReasonKey.String(reason))
	if provider != "" {
		attrs = append(attrs, semconv.FeatureFlagProviderName(provider))
	}
	if d.Variant != "" {
		attrs = append(attrs, semconv.FeatureFlagResultVariant(d.Variant))
	}
	if errType == "" && (d.Variant == "" || h.opts.Value) {
		attrs = append(attrs, valueAttribute(d.Value))
	}
	if errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
		if d.ErrorMessage != "" {
			attrs = append(attrs, semconv.FeatureFlagErrorMessage(d.ErrorMessage))
		}
	}
	if h.opts.ContextID {
		id, _ := d.FlagMetadata["contextId"].(string)
		if id == "" {
			id = hc.EvaluationContext().TargetingKey()
		}
		if id != "" {
			attrs = append(attrs, semconv.FeatureFlagContextID(id))
		}
	}
	// Flag metadata keys as OpenFeature's observability appendix maps them.
	if s, ok := d.FlagMetadata["flagSetId"].(string); ok && s != "" {
		attrs = append(attrs, semconv.FeatureFlagSetID(s))
	}
	if s, ok := d.FlagMetadata["version"].(string); ok && s != "" {
		attrs = append(attrs, semconv.FeatureFlagVersion(s))
	}
	return attrs
}

// valueAttribute returns feature_flag.result.value for v: booleans,
// strings and numbers as themselves, anything else as its JSON.
func valueAttribute(v any) attribute.KeyValue {
	k := semconv.FeatureFlagResultValueKey
	switch v := v.(type) {
	case bool:
		return k.Bool(v)
	case string:
		return k.String(v)
	case int64:
		return k.Int64(v)
	case int:
		return k.Int(v)
	case float64:
		return k.Float64(v)
	}
	if b, err := json.Marshal(v); err == nil {
		return k.String(string(b))
	}
	return k.String(fmt.Sprint(v))
}

// metricKey returns the flag key to count key under, and whether that is
// key itself rather than OtherKey.
func (h *Hook) metricKey(key, errType string) (string, bool) {
	if _, ok := h.keys.Load(key); ok {
		return key, true
	}
	if h.full.Load() || errType == flagNotFound {
		return OtherKey, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.keys.Load(key); ok {
		return key, true
	}
	if h.nkeys >= h.max {
		h.full.Store(true)
		return OtherKey, false
	}
	h.keys.Store(key, struct{}{})
	h.nkeys++
	return key, true
}
