package otelhook_test

import (
	"context"
	"fmt"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/ofprovider"
	"github.com/flagon/flagon/otelhook"
	"github.com/open-feature/go-sdk/openfeature"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func ExampleNew() {
	// Flagon as the OpenFeature provider.
	src, _ := flagon.NewMemorySource(flagon.Definitions{Flags: []flagon.Flag{{Key: "new-home-page"}}}, "")
	client := flagon.NewClient(src, &flagon.Options{Logger: discard})
	defer client.Close()
	if err := openfeature.SetNamedProviderAndWait("example", ofprovider.New(client, nil)); err != nil {
		fmt.Println(err)
		return
	}
	defer openfeature.Shutdown()

	// OpenTelemetry; an application sets up exporters instead of these.
	spans := tracetest.NewSpanRecorder()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)).Tracer("example")
	reader := sdkmetric.NewManualReader()
	meters := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	// The hook; with nil options it uses the global MeterProvider.
	hook, err := otelhook.New(&otelhook.Options{MeterProvider: meters})
	if err != nil {
		fmt.Println(err)
		return
	}
	of := openfeature.NewClient("example")
	of.AddHooks(hook) // or openfeature.AddHooks(hook), for every client

	// In a handler: evaluations go to the request's span.
	ctx, span := tracer.Start(context.Background(), "GET /")
	of.BooleanValue(ctx, "new-home-page", false, openfeature.NewEvaluationContext("user-1", nil))
	span.End()

	for _, ev := range spans.Ended()[0].Events() {
		fmt.Println(ev.Name)
		for _, kv := range ev.Attributes {
			fmt.Printf("  %s=%s\n", kv.Key, kv.Value.Emit())
		}
	}
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	m := rm.ScopeMetrics[0].Metrics[0]
	fmt.Println(m.Name, m.Data.(metricdata.Sum[int64]).DataPoints[0].Value)
	// Output:
	// feature_flag.evaluation
	//   feature_flag.key=new-home-page
	//   feature_flag.result.reason=static
	//   feature_flag.provider.name=flagon
	//   feature_flag.result.variant=off
	// flagon.feature_flag.evaluations 1
}
