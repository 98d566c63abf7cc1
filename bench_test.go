package flagon_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/flagon/flagon"
)

// targetedFlag is the "targeted" benchmark's flag: staff get on, everyone
// else a 25% rollout on the targeting key.
func targetedFlag(key string) flagon.Flag {
	return flagon.Flag{
		Key: key,
		Rules: []flagon.Rule{{
			Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}},
			Serve:   flagon.Serve{Variant: "on"},
		}},
		Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: 25}, {Variant: "off", Percent: 75}}},
	}
}

func newBenchClient(b testing.TB, flags ...flagon.Flag) *flagon.Client {
	src, err := flagon.NewMemorySource(flagon.Definitions{Flags: flags}, "")
	if err != nil {
		b.Fatal(err)
	}
	return flagon.NewClient(src, &flagon.Options{Logger: discardLogger})
}

func benchContexts(n int) []context.Context {
	ctxs := make([]context.Context, n)
	for i := range ctxs {
		ctxs[i] = flagon.WithEvalContext(context.Background(), flagon.EvalContext{
			Key:   fmt.Sprintf("user-%d", i),
			Attrs: map[string]any{"is_staff": i%2 == 0, "country": "NL"},
		})
	}
	return ctxs
}

func BenchmarkClient(b *testing.B) {
	b.Run("simple", func(b *testing.B) {
		c := newBenchClient(b, flagon.Flag{Key: "simple", Default: "on"})
		ctx := flagon.WithEvalContext(context.Background(), flagon.EvalContext{Key: "user-1"})
		b.ReportAllocs()
		for b.Loop() {
			if !c.Bool(ctx, "simple", false) {
				b.Fatal("want true")
			}
		}
	})
	b.Run("targeted", func(b *testing.B) {
		c := newBenchClient(b, targetedFlag("targeted"))
		ctxs := benchContexts(1024)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c.Bool(ctxs[i&1023], "targeted", false)
			i++
		}
	})
	b.Run("many", func(b *testing.B) {
		flags := make([]flagon.Flag, 1000)
		keys := make([]string, 1000)
		for i := range flags {
			keys[i] = fmt.Sprintf("flag-%04d", i)
			flags[i] = targetedFlag(keys[i])
		}
		c := newBenchClient(b, flags...)
		ctxs := benchContexts(1024)
		order := make([]int, 4096)
		for i := range order {
			order[i] = rand.IntN(len(keys))
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c.Bool(ctxs[i&1023], keys[order[i&4095]], false)
			i++
		}
	})
	b.Run("all", func(b *testing.B) {
		flags := make([]flagon.Flag, 1000)
		for i := range flags {
			flags[i] = targetedFlag(fmt.Sprintf("flag-%04d", i))
		}
		c := newBenchClient(b, flags...)
		ctx := benchContexts(1)[0]
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			for r := range c.All(ctx) {
				if r.ErrorCode != "" {
					b.Fatal(r.ErrorCode)
				}
				n++
			}
			if n != 1000 {
				b.Fatalf("All returned %d results", n)
			}
		}
	})
}
