package flagon

import (
	"context"
	"log/slog"
	"runtime"
	"strconv"
	"testing"
)

// TestRetiredTablesDropped checks that a client does not keep the
// counters of every snapshot it ever swapped out: once no evaluation can
// reach them, a swap folds their counts into pending and drops them.
func TestRetiredTablesDropped(t *testing.T) {
	src, err := NewMemorySource(Definitions{Flags: []Flag{{Key: "a", Default: "on"}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(src, &Options{Logger: slog.New(slog.DiscardHandler)})
	defer c.Close()
	for i := range 100 {
		c.Bool(context.Background(), "a", false)
		if err := src.Set(Definitions{Flags: []Flag{{Key: "a", Default: "on", Description: strconv.Itoa(i)}}}); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			runtime.GC()
		}
	}
	c.usage.mu.Lock()
	n := len(c.usage.retired)
	c.usage.mu.Unlock()
	if n > 10 {
		t.Errorf("%d retired tables kept after 100 swaps, want at most 10", n)
	}
	var total int64
	for _, u := range c.TakeUsageDetail() {
		total += u.Count
	}
	if total != 100 {
		t.Errorf("took %d evaluations, want 100", total)
	}
}
