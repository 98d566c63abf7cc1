package server_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/flagontest"
	"github.com/flagon/flagon/server"
)

// BenchmarkEnvironmentsMemory measures what each further environment of
// a server costs in memory: the heap a server over 1,000 flags (each
// with a rule, a rollout and settings for three environments) holds once
// started, serving one environment and then three. It reports the heap
// of each and, for three, the cost of each environment beyond the first.
//
//	go test ./server -run '^$' -bench EnvironmentsMemory -benchtime=3x
func BenchmarkEnvironmentsMemory(b *testing.B) {
	ctx := context.Background()
	st := flagontest.NewMemoryStore()
	for i := range 1000 {
		on := "on"
		f := flagon.Flag{
			Key: fmt.Sprintf("flag-%04d", i), Type: flagon.TypeBool, Default: "off",
			Variants:     []flagon.Variant{{Name: "on", Value: true}, {Name: "off", Value: false}},
			Rules:        []flagon.Rule{{ID: "staff", Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}}, Serve: flagon.Serve{Variant: "on"}}},
			Fallthrough:  flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: 10}, {Variant: "off", Percent: 90}}},
			Environments: map[string]flagon.EnvSettings{"development": {Default: &on}, "staging": {Default: &on}},
		}
		if _, err := st.PutFlag(ctx, f, 0, flagon.Change{Actor: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	// held starts a server with opts and returns the heap it holds.
	held := func(opts *server.Options) float64 {
		before := heap()
		srv, err := server.New(ctx, st, opts)
		if err != nil {
			b.Fatal(err)
		}
		after := heap()
		srv.Close()
		return float64(after) - float64(before)
	}
	var one, three float64
	for b.Loop() {
		one += held(&server.Options{Logger: quiet, Environment: "production"})
		three += held(&server.Options{Logger: quiet, Environments: []server.Environment{{Name: "development"}, {Name: "staging"}, {Name: "production", Production: true}}})
	}
	n := float64(b.N)
	b.ReportMetric(one/n/1024, "KB-1-env")
	b.ReportMetric(three/n/1024, "KB-3-envs")
	b.ReportMetric((three-one)/n/2/1024, "KB/extra-env")
}
