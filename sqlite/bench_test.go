package sqlite_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/flagon/flagon"
	"github.com/flagon/flagon/sqlite"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// targeted is the core benchmarks' flag: staff get on, everyone else a
// 25% rollout.
func targeted(key string) flagon.Flag {
	return flagon.Flag{
		Key: key,
		Rules: []flagon.Rule{{
			Clauses: []flagon.Clause{{Attribute: "is_staff", Op: flagon.OpEquals, Values: []any{true}}},
			Serve:   flagon.Serve{Variant: "on"},
		}},
		Fallthrough: flagon.Serve{Split: []flagon.Split{{Variant: "on", Percent: 25}, {Variant: "off", Percent: 75}}},
	}
}

// BenchmarkStoreSourceEval evaluates 1,000 flags through a client on a
// StoreSource over SQLite, and through one on a MemorySource with the
// same flags: the snapshot is in memory either way, so the figures
// should match.
func BenchmarkStoreSourceEval(b *testing.B) {
	ctx := context.Background()
	flags := make([]flagon.Flag, 1000)
	keys := make([]string, len(flags))
	for i := range flags {
		keys[i] = fmt.Sprintf("flag-%04d", i)
		flags[i] = targeted(keys[i])
	}
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "flagon.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	for _, f := range flags {
		if _, err := store.PutFlag(ctx, f, 0, flagon.Change{Actor: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	storeSrc, err := flagon.NewStoreSource(ctx, store, &flagon.StoreSourceOptions{Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	defer storeSrc.Close()
	memSrc, err := flagon.NewMemorySource(flagon.Definitions{Flags: flags}, "")
	if err != nil {
		b.Fatal(err)
	}
	ctxs := make([]context.Context, 1024)
	for i := range ctxs {
		ctxs[i] = flagon.WithEvalContext(ctx, flagon.EvalContext{
			Key:   fmt.Sprintf("user-%d", i),
			Attrs: map[string]any{"is_staff": i%2 == 0, "country": "NL"},
		})
	}
	order := make([]int, 4096)
	for i := range order {
		order[i] = rand.IntN(len(keys))
	}
	for _, bc := range []struct {
		name string
		src  flagon.Source
	}{
		{"memory", memSrc},
		{"sqlite", storeSrc},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := flagon.NewClient(bc.src, &flagon.Options{Logger: discard})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c.Bool(ctxs[i&1023], keys[order[i&4095]], false)
				i++
			}
		})
	}
}

// BenchmarkPropagation measures the time from a write to a client that
// sees the new value: through one Store (one process: the commit tells
// the watchers), and through a second Store on the same file (another
// process: it polls the revision every DefaultPollInterval).
func BenchmarkPropagation(b *testing.B) {
	for _, bc := range []struct {
		name       string
		sameHandle bool
	}{
		{"one-process", true},
		{"two-processes", false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			path := filepath.Join(b.TempDir(), "flagon.db")
			writer, err := sqlite.Open(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			defer writer.Close()
			reader := writer
			if !bc.sameHandle {
				if reader, err = sqlite.Open(ctx, path); err != nil {
					b.Fatal(err)
				}
				defer reader.Close()
			}
			v, err := writer.PutFlag(ctx, flagon.Flag{Key: "prop", Default: "off"}, 0, flagon.Change{Actor: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			src, err := flagon.NewStoreSource(ctx, reader, &flagon.StoreSourceOptions{Logger: discard})
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			c := flagon.NewClient(src, &flagon.Options{Logger: discard})
			b.ReportAllocs()
			var lat []time.Duration
			on := false
			for b.Loop() {
				on = !on
				def := map[bool]string{true: "on", false: "off"}[on]
				start := time.Now()
				if v, err = writer.PutFlag(ctx, flagon.Flag{Key: "prop", Default: def}, v, flagon.Change{Actor: "bench"}); err != nil {
					b.Fatal(err)
				}
				waitClient(b, src, c, "prop", on)
				lat = append(lat, time.Since(start))
			}
			reportLatency(b, lat)
		})
	}
}

// waitClient waits until c serves key = want: the source's snapshot
// first (an event), then the client's own swap, which follows at once.
func waitClient(b *testing.B, src flagon.Source, c *flagon.Client, key string, want bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := flagon.WaitFor(ctx, src, func(s *flagon.Snapshot) bool {
		return s.Evaluate(key, flagon.EvalContext{}, nil).Value == want
	})
	if err != nil {
		b.Fatalf("the new value did not arrive: %v", err)
	}
	for c.Bool(ctx, key, !want) != want {
		if ctx.Err() != nil {
			b.Fatal("the client did not swap in the new snapshot")
		}
	}
}

// reportLatency reports the median and 99th percentile of lat in
// milliseconds.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p int) float64 {
		i := min(len(lat)-1, len(lat)*p/100)
		return float64(lat[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(50), "p50-ms")
	b.ReportMetric(pct(99), "p99-ms")
}
