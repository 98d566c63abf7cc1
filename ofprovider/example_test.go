package ofprovider_test

import (
	"context"
	"fmt"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/ofprovider"
	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/memprovider"
)

func ExampleNew() {
	src, _ := flagon.NewMemorySource(flagon.Definitions{Flags: []flagon.Flag{{
		Key: "new-home-page",
		Rules: []flagon.Rule{{
			Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}},
			Serve:   flagon.Serve{Variant: "on"},
		}},
	}}}, "")
	client := flagon.NewClient(src, &flagon.Options{Logger: discard})

	if err := openfeature.SetProviderAndWait(ofprovider.New(client, nil)); err != nil {
		fmt.Println(err)
		return
	}
	defer openfeature.Shutdown()
	of := openfeature.NewClient("example")

	ctx := context.Background()
	staff := openfeature.NewEvaluationContext("user-1", map[string]any{"is_staff": true})
	d, _ := of.BooleanValueDetails(ctx, "new-home-page", false, staff)
	fmt.Println(d.Value, d.Variant, d.Reason)

	// A request's overrides travel in the transaction context.
	ctx = ofprovider.WithOverrides(ctx, flagon.OverrideMap{"new-home-page": {Value: false, Source: "cookie"}})
	d, _ = of.BooleanValueDetails(ctx, "new-home-page", true, staff)
	fmt.Println(d.Value, d.Variant, d.Reason, d.FlagMetadata["overrideSource"])
	// Output:
	// true on TARGETING_MATCH
	// false off TARGETING_MATCH cookie
}

func ExampleNewSource() {
	// The vendor's flags; any OpenFeature provider will do.
	vendor := memprovider.NewInMemoryProvider(map[string]memprovider.InMemoryFlag{
		"checkout": {Key: "checkout", State: memprovider.Enabled, DefaultVariant: "express",
			Variants: map[string]any{"express": "express"}},
	})
	// Flagon's definitions of them, as in its config file.
	defs := flagon.Definitions{Flags: []flagon.Flag{{
		Key: "checkout", Type: flagon.TypeString, Description: "Which checkout flow to show",
		Variants: []flagon.Variant{{Name: "classic", Value: "classic"}, {Name: "express", Value: "express"}},
	}}}
	src, err := ofprovider.NewSource(context.Background(), vendor, defs, &ofprovider.SourceOptions{Logger: discard})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	client := flagon.NewClient(src, &flagon.Options{Logger: discard})

	// In a handler, behind flagonhttp's middleware and src.Middleware:
	ctx := src.Context(flagon.WithEvalContext(context.Background(), flagon.EvalContext{Key: "user-1"}))
	v, r := client.StringDetail(ctx, "checkout", "classic")
	fmt.Println(v, r.Variant, r.OverrideSource)
	// Output:
	// express express openfeature:InMemoryProvider
}
