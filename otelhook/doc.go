// Package otelhook records OpenFeature flag evaluations with
// OpenTelemetry, as the feature-flag semantic conventions describe them.
//
// [New] returns an [openfeature.Hook]. Add it to a client, or to the whole
// API, and each evaluation then
//
//   - adds a "feature_flag.evaluation" event to the span in the evaluation's
//     context, when that span is recording, with the convention's
//     attributes (feature_flag.key, feature_flag.provider.name,
//     feature_flag.result.variant, feature_flag.result.reason, error.type,
//     feature_flag.error.message, ...);
//   - adds one to the counter [MetricName], with the key, variant, reason,
//     provider and error type, and at most [Options.MaxFlagKeys] distinct
//     keys.
//
// Reasons and error types are OpenFeature's reasons and error codes in
// lower case, as the conventions ask: error.type is one of
// flag_not_found, type_mismatch, parse_error, targeting_key_missing,
// invalid_context, provider_not_ready, provider_fatal or general.
//
// Start with:
//
//	hook, err := otelhook.New(nil) // the global MeterProvider
//	if err != nil { ... }
//	openfeature.AddHooks(hook)
//
// The hook works with any OpenFeature provider; with Flagon's
// (github.com/flagon/flagon/ofprovider) it reports Flagon's variants and
// reasons.
//
// The package is a module of its own, github.com/flagon/flagon/otelhook,
// so that OpenTelemetry stays out of programs that do not use it, the
// core module and ofprovider included. Inside the repository its go.mod
// replaces the Flagon modules with the directories next to it; users of
// a tagged release drop the replaces.
package otelhook
