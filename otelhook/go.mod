module github.com/flagon/flagon/otelhook

go 1.26.8

// Inside the Flagon repository the tests build against the Flagon modules
// next to them; the hook itself imports neither. Users of a tagged release
// drop these lines.
replace (
	github.com/flagon/flagon => ../
	github.com/flagon/flagon/ofprovider => ../ofprovider
)

require (
	github.com/flagon/flagon v0.0.0-00010101000000-000000000000
	github.com/flagon/flagon/ofprovider v0.0.0-00010101000000-000000000000
	github.com/open-feature/go-sdk v1.20.0
	go.opentelemetry.io/otel v1.47.0
	go.opentelemetry.io/otel/metric v1.47.0
	go.opentelemetry.io/otel/sdk v1.47.0
	go.opentelemetry.io/otel/sdk/metric v1.47.0
	go.opentelemetry.io/otel/trace v1.47.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/otel/log v1.47.0 // indirect
	go.uber.org/mock v0.6.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
