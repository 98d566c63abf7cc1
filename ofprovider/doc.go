// Package ofprovider connects Flagon and OpenFeature, the vendor-neutral
// feature-flag API, in both directions.
//
// [New] makes Flagon an OpenFeature provider, in process: code written
// against the OpenFeature Go SDK reads Flagon's flags, with the same
// values, variants and reasons as the flagon client, and the request's
// overrides.
//
//	openfeature.SetProviderAndWait(ofprovider.New(client, nil))
//	of := openfeature.NewClient("web")
//	// In handlers behind flagonhttp's middleware and ofprovider.Middleware:
//	on, _ := of.BooleanValue(r.Context(), "new-home-page", false, openfeature.EvaluationContext{})
//
// [NewSource] goes the other way: a flagon source whose values come from
// any OpenFeature provider (a vendor's), while the flag definitions stay
// in Flagon's config, so Flagon's overrides, admin page, templates and
// typed handles work over the vendor.
//
// To record evaluations with OpenTelemetry (span events per its
// feature-flag semantic conventions, and a counter), add the hook of
// github.com/flagon/flagon/otelhook, a module of its own so that this one
// does not pull in OpenTelemetry:
//
//	hook, err := otelhook.New(nil)
//	...
//	openfeature.AddHooks(hook)
//
// The package is a module of its own, github.com/flagon/flagon/ofprovider,
// so that the OpenFeature SDK stays out of programs that do not use it.
// Inside the repository its go.mod replaces github.com/flagon/flagon with
// the directory above; users of a tagged release drop the replace.
package ofprovider
