package pending

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

func TestCounts(t *testing.T) {
	h := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	c := func(hour time.Time, flag string, n int64) flagon.UsageCount {
		return flagon.UsageCount{Hour: hour, Flag: flag, Variant: "on", Environment: "production", App: "web", Count: n}
	}
	sorted := func(cs []flagon.UsageCount) []flagon.UsageCount {
		slices.SortFunc(cs, func(a, b flagon.UsageCount) int {
			if d := a.Hour.Compare(b.Hour); d != 0 {
				return d
			}
			return strings.Compare(a.Flag, b.Flag)
		})
		return cs
	}

	p := New(3)
	p.Add([]flagon.UsageCount{c(h, "a", 2), c(h, "a", 3), c(h, "b", 1)})
	if got := sorted(p.List()); !slices.Equal(got, []flagon.UsageCount{c(h, "a", 5), c(h, "b", 1)}) {
		t.Fatalf("after Add: %v", got)
	}

	// Done subtracts what was sent, keeping what came since.
	sent := p.List()
	p.Add([]flagon.UsageCount{c(h, "a", 4)})
	p.Done(sent)
	if got := p.List(); !slices.Equal(got, []flagon.UsageCount{c(h, "a", 4)}) {
		t.Fatalf("after Done: %v", got)
	}

	// Past the limit, the oldest hours go, whole.
	p.Add([]flagon.UsageCount{c(h.Add(-time.Hour), "x", 1), c(h.Add(-time.Hour), "y", 1), c(h.Add(time.Hour), "b", 1)})
	if got := sorted(p.List()); !slices.Equal(got, []flagon.UsageCount{c(h, "a", 4), c(h.Add(time.Hour), "b", 1)}) {
		t.Fatalf("after passing the limit: %v", got)
	}

	p.DropBefore(h.Add(time.Hour))
	if got := p.Take(); !slices.Equal(got, []flagon.UsageCount{c(h.Add(time.Hour), "b", 1)}) {
		t.Fatalf("after DropBefore: %v", got)
	}
	if p.Len() != 0 {
		t.Errorf("after Take: %d kept", p.Len())
	}
}
