package postgres_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// BenchmarkPropagation measures the time from a write on instance A to a
// client on instance B (another pool, another StoreSource) that serves
// the new value: commit, NOTIFY, B's listener, B's reload, B's snapshot
// swap. The target is a p99 of at most 100 ms.
func BenchmarkPropagation(b *testing.B) {
	db := newTestDB(b)
	a := db.open(b)
	in := db.newInstance(b, db.dsn)
	ctx := context.Background()
	v, err := a.PutFlag(ctx, flagOn("prop", false), 0, flagon.Change{Actor: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	waitFlag(b, in, "prop", false)
	b.ReportAllocs()
	var lat []time.Duration
	on := false
	for b.Loop() {
		on = !on
		start := time.Now()
		if v, err = a.PutFlag(ctx, flagOn("prop", on), v, flagon.Change{Actor: "bench"}); err != nil {
			b.Fatal(err)
		}
		waitFlag(b, in, "prop", on)
		// The client swaps the snapshot in right after the source's
		// subscribers hear of it.
		for in.client.Bool(ctx, "prop", !on) != on {
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	pct := func(p int) float64 {
		return float64(lat[min(len(lat)-1, len(lat)*p/100)]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(50), "p50-ms")
	b.ReportMetric(pct(99), "p99-ms")
}
