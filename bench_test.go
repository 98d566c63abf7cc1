package flagon_test

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

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
	return newBenchClientOpts(b, &flagon.Options{Logger: discardLogger}, flags...)
}

func newBenchClientOpts(b testing.TB, opts *flagon.Options, flags ...flagon.Flag) *flagon.Client {
	src, err := flagon.NewMemorySource(flagon.Definitions{Flags: flags}, "")
	if err != nil {
		b.Fatal(err)
	}
	return flagon.NewClient(src, opts)
}

func benchContexts(n int) []context.Context {
	ctxs := make([]context.Context, n)
	for i := range ctxs {
		ctxs[i] = flagon.WithEvalContext(context.Background(), flagon.EvalContext{
			Key:   fmt.Sprintf("user-%d", i),
			Attrs: benchAttrs(i),
		})
	}
	return ctxs
}

func benchAttrs(i int) map[string]any {
	return map[string]any{"is_staff": i%2 == 0, "country": "NL"}
}

// The floor is what any evaluation of a bool flag must at least do, with
// nothing general about it: read the context from ctx, load the current
// set of flags through an atomic pointer, find the flag in an immutable
// map, test one attribute for equality with true, and hash salt and
// targeting key (FNV-1a) for a rollout; a static flag reads no context.
// Each evaluation benchmark reports
// its time as a ratio to the floor of the same flags, measured just
// before it in the same run ("x-floor").
type floorFlag struct {
	key      string
	attr     string // the rule's attribute; empty for no rule
	saltHash uint64 // FNV-1a of the salt and '/'
	percent  uint64 // rollout: buckets below it (of 100) get true; 0 for no rollout
	deflt    bool
}

type floorContext struct {
	key   string
	attrs map[string]any
}

type floorContextKey struct{}

type floorSet struct {
	flags map[string]*floorFlag
	keys  []string // in order
}

type floorClient struct{ set atomic.Pointer[floorSet] }

func newFloorClient(flags ...flagon.Flag) *floorClient {
	set := &floorSet{flags: make(map[string]*floorFlag, len(flags))}
	for _, f := range flags {
		ff := &floorFlag{key: f.Key, deflt: f.Default == "on"}
		if len(f.Rules) > 0 {
			ff.attr = f.Rules[0].Clauses[0].Attribute
		}
		if len(f.Fallthrough.Split) > 0 {
			ff.percent = uint64(f.Fallthrough.Split[0].Percent)
		}
		h := uint64(14695981039346656037)
		for _, c := range []byte(f.Key + "/") {
			h = (h ^ uint64(c)) * 1099511628211
		}
		ff.saltHash = h
		set.flags[f.Key] = ff
		set.keys = append(set.keys, f.Key)
	}
	c := &floorClient{}
	c.set.Store(set)
	return c
}

func floorContexts(n int) []context.Context {
	ctxs := make([]context.Context, n)
	for i := range ctxs {
		ctxs[i] = context.WithValue(context.Background(), floorContextKey{},
			&floorContext{key: fmt.Sprintf("user-%d", i), attrs: benchAttrs(i)})
	}
	return ctxs
}

func (f *floorFlag) eval(fc *floorContext) bool {
	if f.attr != "" {
		if v, ok := fc.attrs[f.attr].(bool); ok && v {
			return true
		}
	}
	if f.percent > 0 {
		h := f.saltHash
		for i := 0; i < len(fc.key); i++ {
			h = (h ^ uint64(fc.key[i])) * 1099511628211
		}
		return h%100 < f.percent
	}
	return f.deflt
}

func (c *floorClient) Bool(ctx context.Context, key string, def bool) bool {
	f := c.set.Load().flags[key]
	if f == nil {
		return def
	}
	if f.attr == "" && f.percent == 0 {
		return f.deflt // a static flag needs no context
	}
	fc, _ := ctx.Value(floorContextKey{}).(*floorContext)
	if fc == nil {
		return def
	}
	return f.eval(fc)
}

func (c *floorClient) All(ctx context.Context) iter.Seq2[string, bool] {
	return func(yield func(string, bool) bool) {
		fc, _ := ctx.Value(floorContextKey{}).(*floorContext)
		if fc == nil {
			return
		}
		// As the floor's definition says, each flag is found in the
		// map by its key: what evaluating a list of keys must do.
		set := c.set.Load()
		for _, key := range set.keys {
			if !yield(key, set.flags[key].eval(fc)) {
				return
			}
		}
	}
}

// vsFloor runs b.N operations of run against b.N of floor, the same
// work done by the floor, interleaved in blocks of block operations so
// that both meet the same machine (a shared VM drifts by more than the
// differences measured). ns/op and the allocation columns are run's; it
// reports the floor's time as "floor-ns/op" and run's time as a multiple
// of it as "x-floor".
func vsFloor(b *testing.B, block int, floor, run func(n int)) {
	b.ReportAllocs()
	floor(block) // warm both up: caches, branch predictors
	run(block)
	var floorTime time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(block, b.N-done)
		b.StopTimer()
		t := time.Now()
		floor(n)
		floorTime += time.Since(t)
		b.StartTimer()
		run(n)
		done += n
	}
	b.StopTimer()
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	floorNs := float64(floorTime.Nanoseconds()) / float64(b.N)
	b.ReportMetric(floorNs, "floor-ns/op")
	b.ReportMetric(ns/floorNs, "x-floor")
}

// BenchmarkClient measures evaluation through a Client with default
// options (usage counting on), each case against its floor.
func BenchmarkClient(b *testing.B) {
	benchClient(b, &flagon.Options{Logger: discardLogger})
}

// BenchmarkClientNoUsage is BenchmarkClient with usage counting off: the
// difference is what counting costs.
func BenchmarkClientNoUsage(b *testing.B) {
	benchClient(b, &flagon.Options{Logger: discardLogger, DisableUsage: true})
}

func benchClient(b *testing.B, opts *flagon.Options) {
	simple := flagon.Flag{Key: "simple", Default: "on"}
	manyFlags := make([]flagon.Flag, 1000)
	keys := make([]string, 1000)
	for i := range manyFlags {
		keys[i] = fmt.Sprintf("flag-%04d", i)
		manyFlags[i] = targetedFlag(keys[i])
	}
	order := make([]int, 4096)
	for i := range order {
		order[i] = rand.IntN(len(keys))
	}

	b.Run("simple", func(b *testing.B) {
		fc := newFloorClient(simple)
		fctx := floorContexts(2)[1]
		c := newBenchClientOpts(b, opts, simple)
		ctx := flagon.WithEvalContext(context.Background(), flagon.EvalContext{Key: "user-1"})
		vsFloor(b, 8192, func(n int) {
			for range n {
				if !fc.Bool(fctx, "simple", false) {
					b.Fatal("want true")
				}
			}
		}, func(n int) {
			for range n {
				if !c.Bool(ctx, "simple", false) {
					b.Fatal("want true")
				}
			}
		})
	})
	b.Run("targeted", func(b *testing.B) {
		fc := newFloorClient(targetedFlag("targeted"))
		fctxs := floorContexts(1024)
		c := newBenchClientOpts(b, opts, targetedFlag("targeted"))
		ctxs := benchContexts(1024)
		fi, i := 0, 0
		vsFloor(b, 8192, func(n int) {
			for range n {
				fc.Bool(fctxs[fi&1023], "targeted", false)
				fi++
			}
		}, func(n int) {
			for range n {
				c.Bool(ctxs[i&1023], "targeted", false)
				i++
			}
		})
	})
	b.Run("many", func(b *testing.B) {
		fc := newFloorClient(manyFlags...)
		fctxs := floorContexts(1024)
		c := newBenchClientOpts(b, opts, manyFlags...)
		ctxs := benchContexts(1024)
		fi, i := 0, 0
		vsFloor(b, 8192, func(n int) {
			for range n {
				fc.Bool(fctxs[fi&1023], keys[order[fi&4095]], false)
				fi++
			}
		}, func(n int) {
			for range n {
				c.Bool(ctxs[i&1023], keys[order[i&4095]], false)
				i++
			}
		})
	})
	b.Run("all", func(b *testing.B) {
		fc := newFloorClient(manyFlags...)
		fctx := floorContexts(1)[0]
		c := newBenchClientOpts(b, opts, manyFlags...)
		ctx := benchContexts(1)[0]
		vsFloor(b, 16, func(n int) {
			for range n {
				k := 0
				for range fc.All(fctx) {
					k++
				}
				if k != 1000 {
					b.Fatalf("floor All returned %d results", k)
				}
			}
		}, func(n int) {
			for range n {
				k := 0
				for r := range c.All(ctx) {
					if r.ErrorCode != "" {
						b.Fatal(r.ErrorCode)
					}
					k++
				}
				if k != 1000 {
					b.Fatalf("All returned %d results", k)
				}
			}
		})
	})
}
