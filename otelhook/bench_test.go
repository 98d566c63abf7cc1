package otelhook_test

import (
	"context"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"
)

// BenchmarkEvaluate measures an evaluation through the OpenFeature client
// over Flagon: without the hook (the floor), with it outside a span, and
// with it in a recording span (whose events stop at the SDK's limit).
func BenchmarkEvaluate(b *testing.B) {
	ec := openfeature.NewEvaluationContext("user-1", map[string]any{"is_staff": true})
	run := func(b *testing.B, of *openfeature.Client, ctx context.Context) {
		b.ReportAllocs()
		for b.Loop() {
			of.BooleanValue(ctx, "new-home-page", false, ec)
		}
	}
	b.Run("floor", func(b *testing.B) {
		setup(b, nil)
		run(b, openfeature.NewClient(b.Name()), context.Background()) // same provider, no hook
	})
	b.Run("hook", func(b *testing.B) {
		run(b, setup(b, nil).of, context.Background())
	})
	b.Run("hook-span", func(b *testing.B) {
		e := setup(b, nil)
		ctx, span := e.tracer.Start(context.Background(), "request")
		defer span.End()
		run(b, e.of, ctx)
	})
}
