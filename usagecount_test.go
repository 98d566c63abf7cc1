package flagon_test

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// usageKey names a counted evaluation: flag, variant and reason.
type usageKey struct {
	flag, variant string
	reason        flagon.Reason
}

// takeDetail takes c's counts into a map, checking that the environment
// is env.
func takeDetail(t *testing.T, c *flagon.Client, env string) map[usageKey]int64 {
	t.Helper()
	got := map[usageKey]int64{}
	for _, d := range c.TakeUsageDetail() {
		if d.Environment != env {
			t.Errorf("%+v: environment %q, want %q", d, d.Environment, env)
		}
		if d.Count <= 0 {
			t.Errorf("%+v: count not positive", d)
		}
		got[usageKey{d.Flag, d.Variant, d.Reason}] += d.Count
	}
	return got
}

func checkUsage(t *testing.T, got, want map[usageKey]int64) {
	t.Helper()
	for k, n := range want {
		if got[k] != n {
			t.Errorf("count of %+v = %d, want %d", k, got[k], n)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected count of %+v: %d", k, n)
		}
	}
}

var usageHandle = flagon.NewBool("usage-handle", false, "A handle counted by TestUsageCounts")

// TestUsageCounts checks that every way of evaluating through a client
// counts, by flag, variant and reason.
func TestUsageCounts(t *testing.T) {
	defs := typedDefs()
	defs.Flags = append(defs.Flags, targetedFlag("t"), flagon.Flag{Key: "usage-handle", Default: "on"},
		flagon.Flag{Key: "off", Default: "on", Disabled: true})
	src, err := flagon.NewMemorySource(defs, "prod")
	if err != nil {
		t.Fatal(err)
	}
	c := flagon.NewClient(src, &flagon.Options{Logger: discardLogger})
	defer c.Close()

	staff := flagon.WithEvalContext(context.Background(), flagon.EvalContext{Key: "u1", Attrs: map[string]any{"is_staff": true}})
	user := flagon.WithEvalContext(context.Background(), flagon.EvalContext{Key: "u2"})
	over := flagon.WithScope(context.Background(), flagon.EvalContext{Key: "u3"}, flagon.OverrideMap{"b": {Value: false}})
	bg := context.Background()

	c.Bool(bg, "b", false)
	c.BoolDetail(bg, "b", false)
	c.Bool(over, "b", true)
	c.Evaluate(staff, "t")
	_, r := c.BoolDetail(user, "t", false)
	c.String(bg, "s", "")
	c.StringDetail(bg, "s", "")
	c.Int(bg, "i", 0)
	c.IntDetail(bg, "i", 0)
	c.Float(bg, "f", 0)
	c.FloatDetail(bg, "f", 0)
	c.Object(bg, "o", nil)
	c.ObjectDetail(bg, "o", nil)
	c.Bool(bg, "s", false) // type mismatch: the caller's default, no variant
	c.Bool(bg, "off", false)
	usageHandle.EnabledIn(bg, c)
	c.Bool(bg, "nope", false)
	c.Evaluate(bg, "nope-either")
	for range c.All(user) {
	}

	want := map[usageKey]int64{
		{"b", "on", flagon.ReasonStatic}:            3, // Bool, BoolDetail, All
		{"b", "off", flagon.ReasonOverride}:         1,
		{"t", "on", flagon.ReasonTargetingMatch}:    1,
		{"t", r.Variant, flagon.ReasonSplit}:        2, // BoolDetail, All
		{"s", "x", flagon.ReasonStatic}:             3,
		{"s", "", flagon.ReasonError}:               1,
		{"i", "x", flagon.ReasonStatic}:             3,
		{"f", "x", flagon.ReasonStatic}:             3,
		{"o", "x", flagon.ReasonStatic}:             3,
		{"off", "on", flagon.ReasonDisabled}:        2,
		{"usage-handle", "on", flagon.ReasonStatic}: 2,
	}
	checkUsage(t, takeDetail(t, c, "prod"), want)
	if n := c.UnknownFlagEvaluations(); n != 2 {
		t.Errorf("UnknownFlagEvaluations = %d, want 2", n)
	}
	if d := c.TakeUsageDetail(); len(d) != 0 {
		t.Errorf("second take = %+v, want nothing", d)
	}
	if n := c.UnknownFlagEvaluations(); n != 2 {
		t.Errorf("UnknownFlagEvaluations after a take = %d, want 2 (it never resets)", n)
	}

	// TakeUsage sums over reasons, in the hour of now, in UTC.
	c.Bool(bg, "off", false)
	c.Bool(over, "off", false) // the override wins over the kill switch
	c.Bool(bg, "b", false)
	now := time.Date(2026, 3, 4, 15, 47, 12, 5, time.FixedZone("CET", 3600))
	hour := time.Date(2026, 3, 4, 14, 0, 0, 0, time.UTC)
	got := c.TakeUsage(now)
	wantCounts := []flagon.UsageCount{
		{Hour: hour, Flag: "b", Variant: "on", Environment: "prod", Count: 1},
		{Hour: hour, Flag: "off", Variant: "on", Environment: "prod", Count: 2},
	}
	if !slices.Equal(got, wantCounts) {
		t.Errorf("TakeUsage = %+v\nwant %+v", got, wantCounts)
	}
	if err := flagon.ValidateUsage(got); err != nil {
		t.Errorf("TakeUsage gave invalid counts: %v", err)
	}
}

func TestUsageDisabled(t *testing.T) {
	src, err := flagon.NewMemorySource(typedDefs(), "")
	if err != nil {
		t.Fatal(err)
	}
	c := flagon.NewClient(src, &flagon.Options{Logger: discardLogger, DisableUsage: true})
	defer c.Close()
	c.Bool(context.Background(), "b", false)
	c.Bool(context.Background(), "nope", false)
	if d := c.TakeUsageDetail(); len(d) != 0 {
		t.Errorf("TakeUsageDetail = %+v, want nothing with counting off", d)
	}
	if n := c.UnknownFlagEvaluations(); n != 0 {
		t.Errorf("UnknownFlagEvaluations = %d, want 0 with counting off", n)
	}
	var nilClient *flagon.Client
	if nilClient.TakeUsage(time.Now()) != nil || nilClient.UnknownFlagEvaluations() != 0 {
		t.Error("a nil client reports usage")
	}
}

// TestUsageAcrossSwaps checks that counts of swapped-out snapshots are
// taken, even after more swaps between two takes than the client keeps
// retired tables for, and of flags the new definitions removed.
func TestUsageAcrossSwaps(t *testing.T) {
	c, src := newClient(t, flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Default: "on"}, {Key: "gone", Default: "on"}}})
	ctx := context.Background()
	for range 3 {
		c.Bool(ctx, "gone", false)
	}
	want := map[usageKey]int64{{"gone", "on", flagon.ReasonStatic}: 3}
	for i := range 10 {
		for range i + 1 {
			c.Bool(ctx, "a", false)
		}
		want[usageKey{"a", "on", flagon.ReasonStatic}] += int64(i + 1)
		// Each Set is a new snapshot, without "gone".
		if err := src.Set(flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Default: "on", Description: strconv.Itoa(i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	c.Bool(ctx, "a", false)
	want[usageKey{"a", "on", flagon.ReasonStatic}]++
	checkUsage(t, takeDetail(t, c, ""), want)
	if d := c.TakeUsageDetail(); len(d) != 0 {
		t.Errorf("second take = %+v, want nothing", d)
	}
}

// TestUsageConcurrent counts from many goroutines while the source
// reloads and a harvester takes the counts; run it with -race. Every
// evaluation must be counted exactly once.
func TestUsageConcurrent(t *testing.T) {
	defs := func(rev int) flagon.Definitions {
		return flagon.Definitions{Flags: []flagon.Flag{
			{Key: "s", Default: "on", Description: strconv.Itoa(rev)},
			targetedFlag("t"),
		}}
	}
	c, src := newClient(t, defs(0))
	ctxs := benchContexts(16)
	const goroutines, perG = 8, 5000
	got := map[usageKey]int64{}
	var mu sync.Mutex
	take := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range c.TakeUsageDetail() {
			got[usageKey{d.Flag, d.Variant, d.Reason}] += d.Count
		}
	}

	var wg, bg sync.WaitGroup
	stop := make(chan struct{})
	bg.Add(2)
	go func() { // reloads
		defer bg.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := src.Set(defs(i)); err != nil {
				t.Error(err)
				return
			}
			runtime.Gosched()
		}
	}()
	go func() { // takes
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			take()
			runtime.Gosched()
		}
	}()
	splits := make([]map[string]int64, goroutines)
	for g := range goroutines {
		wg.Add(1)
		splits[g] = map[string]int64{}
		go func() {
			defer wg.Done()
			for i := range perG {
				ctx := ctxs[(g+i)%len(ctxs)]
				c.Bool(ctx, "s", false)
				if _, r := c.BoolDetail(ctx, "t", false); r.Reason == flagon.ReasonSplit {
					splits[g][r.Variant]++
				}
				c.Bool(ctx, "unknown-"+strconv.Itoa(i%3), false)
			}
		}()
	}
	wg.Wait()
	close(stop)
	bg.Wait()
	take()
	take() // a swap may have retired the table after the previous take

	want := map[usageKey]int64{
		{"s", "on", flagon.ReasonStatic}:         goroutines * perG,
		{"t", "on", flagon.ReasonTargetingMatch}: goroutines * perG / 2, // even contexts are staff
	}
	for _, m := range splits {
		for v, n := range m {
			want[usageKey{"t", v, flagon.ReasonSplit}] += n
		}
	}
	checkUsage(t, got, want)
	if n := c.UnknownFlagEvaluations(); n != goroutines*perG {
		t.Errorf("UnknownFlagEvaluations = %d, want %d", n, goroutines*perG)
	}
}

// TestUsageUnknownKeysBounded evaluates a million distinct unknown keys:
// they share one counter, so the client's memory does not grow.
func TestUsageUnknownKeysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("a million evaluations")
	}
	c, _ := newClient(t, flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Default: "on"}}})
	ctx := context.Background()
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	buf := []byte("unknown-")
	for i := range 1_000_000 {
		c.Bool(ctx, string(strconv.AppendInt(buf[:8], int64(i), 10)), false)
	}
	after := heap()
	if after > before && after-before > 256<<10 {
		t.Errorf("heap grew by %d bytes over a million unknown keys", after-before)
	}
	if n := c.UnknownFlagEvaluations(); n != 1_000_000 {
		t.Errorf("UnknownFlagEvaluations = %d, want 1000000", n)
	}
	if d := c.TakeUsageDetail(); len(d) != 0 {
		t.Errorf("TakeUsageDetail = %+v, want nothing", d)
	}
}

// TestUsageAllocs guards the zero-allocation hot path with counting on,
// and that it did count.
func TestUsageAllocs(t *testing.T) {
	c, _ := newClient(t, flagon.Definitions{Flags: []flagon.Flag{targetedFlag("t")}})
	ctxs := benchContexts(64)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		c.Bool(ctxs[i%len(ctxs)], "t", false)
		c.Bool(ctxs[i%len(ctxs)], "nope", false)
		i++
	})
	if allocs != 0 {
		t.Errorf("Bool with counting on allocates %.1f times per run, want 0", allocs)
	}
	var n int64
	for _, u := range c.TakeUsage(time.Now()) {
		n += u.Count
	}
	if n != 1001 { // AllocsPerRun runs the function once more to warm up
		t.Errorf("counted %d evaluations, want 1001", n)
	}
}

// reportingSource is a MemorySource that is a UsageReporter.
type reportingSource struct {
	*flagon.MemorySource
	take func(time.Time) []flagon.UsageCount
}

func (s *reportingSource) ReportUsage(take func(time.Time) []flagon.UsageCount) { s.take = take }

// TestClientHandsUsageToReporter: a client over a source that reports
// usage hands it its counts, unless counting is off.
func TestClientHandsUsageToReporter(t *testing.T) {
	mem, err := flagon.NewMemorySource(flagon.Definitions{Flags: []flagon.Flag{{Key: "a", Default: "on"}}}, "prod")
	if err != nil {
		t.Fatal(err)
	}
	src := &reportingSource{MemorySource: mem}
	c := flagon.NewClient(src, &flagon.Options{Logger: discardLogger})
	if src.take == nil {
		t.Fatal("NewClient did not hand the reporter its counts")
	}
	c.Bool(context.Background(), "a", false)
	c.Bool(context.Background(), "a", false)
	now := time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)
	got := src.take(now)
	if len(got) != 1 || got[0].Flag != "a" || got[0].Variant != "on" || got[0].Count != 2 || got[0].Environment != "prod" || !got[0].Hour.Equal(now.Truncate(time.Hour)) {
		t.Errorf("the reporter took %+v, want 2 evaluations of a/on in prod", got)
	}

	off := &reportingSource{MemorySource: mem}
	flagon.NewClient(off, &flagon.Options{Logger: discardLogger, DisableUsage: true})
	if off.take != nil {
		t.Error("a client that does not count handed the reporter a take")
	}
}

// TestFixedResults checks that flags whose result no context can change
// (static, disabled, in the snapshot's environment) are served and
// counted by the typed getters exactly as the general evaluator serves
// and counts them: a client with OnEvaluate set takes the general path.
func TestFixedResults(t *testing.T) {
	off, on3 := "off", "c"
	yes := true
	threeVariants := []flagon.Variant{{Name: "a", Value: "alpha"}, {Name: "b", Value: "beta"}, {Name: "c", Value: "gamma"}}
	defs := flagon.Definitions{Flags: []flagon.Flag{
		{Key: "static-on", Default: "on"},
		{Key: "static-off", Default: "off"},
		{Key: "static-b", Type: flagon.TypeString, Variants: threeVariants, Default: "b"},
		{Key: "static-fall", Type: flagon.TypeString, Variants: threeVariants, Default: "a", Fallthrough: flagon.Serve{Variant: "c"}},
		{Key: "disabled", Default: "off", Disabled: true, Fallthrough: flagon.Serve{Variant: "on"}},
		{Key: "disabled-targeted", Default: "off", Disabled: true, Rules: targetedFlag("x").Rules},
		{Key: "env-default", Default: "on", Environments: map[string]flagon.EnvSettings{"prod": {Default: &off}}},
		{Key: "env-disabled", Default: "on", Environments: map[string]flagon.EnvSettings{"prod": {Disabled: &yes}}},
		{Key: "env-string", Type: flagon.TypeString, Variants: threeVariants, Environments: map[string]flagon.EnvSettings{"prod": {Default: &on3}}},
		targetedFlag("targeted"),
	}}
	src, err := flagon.NewMemorySource(defs, "prod")
	if err != nil {
		t.Fatal(err)
	}
	fast := flagon.NewClient(src, &flagon.Options{Logger: discardLogger})
	defer fast.Close()
	general := flagon.NewClient(src, &flagon.Options{Logger: discardLogger, OnEvaluate: func(context.Context, flagon.EvalContext, flagon.Result) {}})
	defer general.Close()

	snap := src.Snapshot()
	ctxs := []context.Context{
		context.Background(),
		flagon.WithEvalContext(context.Background(), flagon.EvalContext{Key: "u1", Attrs: map[string]any{"is_staff": true}}),
		flagon.WithEvalContext(context.Background(), flagon.EvalContext{Key: "u2"}),
		flagon.WithScope(context.Background(), flagon.EvalContext{Key: "u3"},
			flagon.OverrideMap{"static-on": {Value: false}, "disabled": {Value: true}, "static-b": {Value: "gamma"}}),
	}
	for _, ctx := range ctxs {
		for _, f := range defs.Flags {
			want := snap.Evaluate(f.Key, flagon.EvalContextFrom(ctx), flagon.OverridesFrom(ctx))
			if f.Type == flagon.TypeString {
				if got := fast.String(ctx, f.Key, "def"); got != want.Value {
					t.Errorf("String(%q) = %v, want %v", f.Key, got, want.Value)
				}
				general.String(ctx, f.Key, "def")
				// A type mismatch: the caller's default, counted with no variant.
				if got := fast.Bool(ctx, f.Key, true); !got {
					t.Errorf("Bool(%q) of a string flag = false, want the default true", f.Key)
				}
				general.Bool(ctx, f.Key, true)
				continue
			}
			if got := fast.Bool(ctx, f.Key, false); got != want.Value {
				t.Errorf("Bool(%q) = %v, want %v", f.Key, got, want.Value)
			}
			general.Bool(ctx, f.Key, false)
			fast.String(ctx, f.Key, "mismatch")
			general.String(ctx, f.Key, "mismatch")
		}
	}
	got, want := takeDetail(t, fast, "prod"), takeDetail(t, general, "prod")
	if len(want) < 10 {
		t.Fatalf("the general path counted only %+v", want)
	}
	checkUsage(t, got, want)
}
