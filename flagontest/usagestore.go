package flagontest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// TestUsageStore checks that a flagon.UsageStore keeps the interface's
// promises: counts for the same hour, flag, variant, environment and app
// add up in one row; rows come back in order and as the query selects;
// UsageQuery.Sum sums hours into one row per flag, variant, environment
// and app at its last hour; a batch with one invalid count (or more than flagon.MaxUsageBatch) is
// refused whole with field errors; pruning deletes the hours before its
// cut-off; and, when the store is also a flagon.Store, usage bumps no
// revision. newStore must return a new, empty store each time.
func TestUsageStore(t *testing.T, newStore func(t *testing.T) flagon.UsageStore) {
	s := openStore(t, newStore)
	ctx := t.Context()
	h0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	h1, h2 := h0.Add(time.Hour), h0.Add(2*time.Hour)
	rev := storeRevision(t, s)

	mustStore(t, s.AddUsage(ctx, []flagon.UsageCount{
		{Hour: h0, Flag: "a", Variant: "on", Environment: "prod", App: "web", Count: 3},
		{Hour: h0, Flag: "a", Variant: "off", Environment: "prod", App: "web", Count: 1},
		{Hour: h1, Flag: "b", Environment: "prod", App: "api", Count: 5},
	}))
	mustStore(t, s.AddUsage(ctx, []flagon.UsageCount{
		{Hour: h0, Flag: "a", Variant: "on", Environment: "prod", App: "web", Count: 4},
		{Hour: h2, Flag: "a", Variant: "on", Environment: "staging", App: "web", Count: 2},
	}))
	mustStore(t, s.AddUsage(ctx, nil))
	if got := storeRevision(t, s); got != rev {
		t.Errorf("usage moved the revision from %d to %d", rev, got)
	}

	all, err := s.Usage(ctx, flagon.UsageQuery{})
	mustStore(t, err)
	want := []flagon.UsageCount{
		{Hour: h0, Flag: "a", Variant: "off", Environment: "prod", App: "web", Count: 1},
		{Hour: h0, Flag: "a", Variant: "on", Environment: "prod", App: "web", Count: 7},
		{Hour: h1, Flag: "b", Environment: "prod", App: "api", Count: 5},
		{Hour: h2, Flag: "a", Variant: "on", Environment: "staging", App: "web", Count: 2},
	}
	checkUsage(t, "all usage", all, want)
	for _, q := range []struct {
		name string
		q    flagon.UsageQuery
		want []flagon.UsageCount
	}{
		{"flag a", flagon.UsageQuery{Flag: "a"}, []flagon.UsageCount{want[0], want[1], want[3]}},
		{"environment staging", flagon.UsageQuery{Environment: "staging"}, want[3:]},
		{"app api", flagon.UsageQuery{App: "api"}, want[2:3]},
		{"since h1", flagon.UsageQuery{Since: h1}, want[2:]},
		{"until h1", flagon.UsageQuery{Until: h1}, want[:2]},
		{"flag a in h1", flagon.UsageQuery{Flag: "a", Since: h1, Until: h2}, nil},
	} {
		got, err := s.Usage(ctx, q.q)
		mustStore(t, err)
		checkUsage(t, q.name, got, q.want)
	}

	// One bad count refuses the whole batch.
	for _, bad := range []flagon.UsageCount{
		{Hour: h0, Flag: "no such key!", Count: 1},
		{Hour: h0.Add(time.Minute), Flag: "a", Count: 1},
		{Hour: h0, Flag: "a", Count: 0},
		{Hour: h0, Flag: "a", App: strings.Repeat("x", flagon.MaxAppLen+1), Count: 1},
		{Hour: h0, Flag: "a", App: "bad\napp", Count: 1},
	} {
		batch := []flagon.UsageCount{{Hour: h0, Flag: "a", Variant: "on", Environment: "prod", App: "web", Count: 100}, bad}
		wantFieldErrors(t, "AddUsage with a bad count", s.AddUsage(ctx, batch))
	}
	big := make([]flagon.UsageCount, flagon.MaxUsageBatch+1)
	for i := range big {
		big[i] = flagon.UsageCount{Hour: h0, Flag: "a", Count: 1}
	}
	wantFieldErrors(t, "AddUsage with too many counts", s.AddUsage(ctx, big))
	got, err := s.Usage(ctx, flagon.UsageQuery{})
	mustStore(t, err)
	checkUsage(t, "after refused batches", got, want)

	n, err := s.PruneUsage(ctx, h1)
	mustStore(t, err)
	if n != 2 {
		t.Errorf("PruneUsage deleted %d rows, want 2", n)
	}
	got, err = s.Usage(ctx, flagon.UsageQuery{})
	mustStore(t, err)
	checkUsage(t, "after pruning", got, want[2:])

	// Sum: one row per flag, variant, environment and app, at its last
	// hour.
	mustStore(t, s.AddUsage(ctx, []flagon.UsageCount{
		{Hour: h1, Flag: "a", Variant: "on", Environment: "prod", App: "web", Count: 2},
		{Hour: h2, Flag: "a", Variant: "on", Environment: "prod", App: "web", Count: 3},
	}))
	got, err = s.Usage(ctx, flagon.UsageQuery{Flag: "a", Sum: true})
	mustStore(t, err)
	checkUsage(t, "summed", got, []flagon.UsageCount{
		{Hour: h2, Flag: "a", Variant: "on", Environment: "prod", App: "web", Count: 5},
		{Hour: h2, Flag: "a", Variant: "on", Environment: "staging", App: "web", Count: 2},
	})
	got, err = flagon.UsageAround(ctx, s, flagon.UsageQuery{Flag: "a"}, h2)
	mustStore(t, err)
	checkUsage(t, "around h2", got, []flagon.UsageCount{
		{Hour: h1, Flag: "a", Variant: "on", Environment: "prod", App: "web", Count: 2},
		{Hour: h2, Flag: "a", Variant: "on", Environment: "prod", App: "web", Count: 3},
		{Hour: h2, Flag: "a", Variant: "on", Environment: "staging", App: "web", Count: 2},
	})
}

func checkUsage(t *testing.T, what string, got, want []flagon.UsageCount) {
	t.Helper()
	eq := func(a, b flagon.UsageCount) bool {
		return a.Hour.Equal(b.Hour) && a.Hour.Location() == time.UTC && a.Flag == b.Flag && a.Variant == b.Variant &&
			a.Environment == b.Environment && a.App == b.App && a.Count == b.Count
	}
	if !slices.EqualFunc(got, want, eq) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}
