package flagon_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

func TestReadyToRemove(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	at := func(ago time.Duration) time.Time { return now.Add(-ago).Truncate(time.Hour) }
	flags := []flagon.Flag{
		{Key: "busy"},       // both variants recently
		{Key: "forgotten"},  // last evaluated 40 days ago
		{Key: "never"},      // no counts at all
		{Key: "launched"},   // only "on" for 30 days
		{Key: "new-launch"}, // only "on", but first evaluated 3 days ago
		{Key: "old", Expires: now.Add(-2 * day)},
		{Key: "errors-only"}, // evaluated, but never served a variant
	}
	counts := []flagon.UsageCount{
		{Hour: at(40 * day), Flag: "busy", Variant: "on", Count: 5, App: "web"},
		{Hour: at(day), Flag: "busy", Variant: "on", Count: 5, App: "web"},
		{Hour: at(2 * day), Flag: "busy", Variant: "off", Count: 5, App: "api"},
		{Hour: at(40 * day), Flag: "forgotten", Variant: "on", Count: 1},
		{Hour: at(30 * day), Flag: "launched", Variant: "off", Count: 1},
		{Hour: at(13 * day), Flag: "launched", Variant: "on", Count: 1000},
		{Hour: at(day), Flag: "launched", Variant: "on", Count: 200},
		{Hour: at(3 * day), Flag: "new-launch", Variant: "on", Count: 9},
		{Hour: at(day), Flag: "old", Variant: "on", Count: 1},
		{Hour: at(day), Flag: "old", Variant: "off", Count: 1},
		{Hour: at(20 * day), Flag: "errors-only", Count: 3},
		{Hour: at(day), Flag: "errors-only", Count: 3},
	}
	got := flagon.ReadyToRemove(flags, counts, now, 14*day)
	want := []struct {
		flag    string
		reasons []flagon.RemovalReason
		detail  string
	}{
		{"forgotten", []flagon.RemovalReason{flagon.RemovalNotEvaluated}, "last evaluated 2026-10-22"},
		{"launched", []flagon.RemovalReason{flagon.RemovalOneVariant}, "served on to all 1200 evaluations since 2026-11-17"},
		{"never", []flagon.RemovalReason{flagon.RemovalNotEvaluated}, "no evaluation kept"},
		{"old", []flagon.RemovalReason{flagon.RemovalExpired}, "expired 2026-11-29"},
	}
	if len(got) != len(want) {
		t.Fatalf("ReadyToRemove = %+v, want %d candidates", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Flag != w.flag || !slices.Equal(g.Reasons, w.reasons) || g.Detail != w.detail {
			t.Errorf("candidate %d = %+v, want %s %v %q", i, g, w.flag, w.reasons, w.detail)
		}
	}
	if got[0].LastEvaluated != at(40*day) || got[1].Variant != "on" {
		t.Errorf("LastEvaluated %v, Variant %q", got[0].LastEvaluated, got[1].Variant)
	}

	sum := flagon.SummarizeUsage(counts)["busy"]
	if sum.Total != 15 || sum.Variants["on"] != 10 || sum.Variants["off"] != 5 || !slices.Equal(sum.Apps, []string{"api", "web"}) ||
		sum.First != at(40*day) || sum.Last != at(day) {
		t.Errorf("SummarizeUsage(busy) = %+v", sum)
	}
}

func ExampleReadyToRemove() {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	flags := []flagon.Flag{{Key: "new-checkout"}, {Key: "dark-mode"}}
	counts := []flagon.UsageCount{
		{Hour: now.Add(-30 * 24 * time.Hour).Truncate(time.Hour), Flag: "new-checkout", Variant: "on", Count: 40},
		{Hour: now.Add(-time.Hour).Truncate(time.Hour), Flag: "new-checkout", Variant: "on", Count: 960},
		{Hour: now.Add(-time.Hour).Truncate(time.Hour), Flag: "dark-mode", Variant: "off", Count: 10},
		{Hour: now.Add(-2 * time.Hour).Truncate(time.Hour), Flag: "dark-mode", Variant: "on", Count: 12},
	}
	for _, c := range flagon.ReadyToRemove(flags, counts, now, 14*24*time.Hour) {
		fmt.Println(c.Flag, c.Reasons, c.Detail)
	}
	// Output:
	// new-checkout [one-variant] served on to all 960 evaluations since 2026-11-17
}

func ExampleUsageSince() {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	counts := []flagon.UsageCount{
		{Hour: now.Add(-48 * time.Hour), Flag: "new-checkout", Variant: "on", Count: 40},
		{Hour: now.Add(-time.Hour), Flag: "new-checkout", Variant: "on", Count: 960},
	}
	day := flagon.SummarizeUsage(flagon.UsageSince(counts, now.Add(-24*time.Hour)))
	fmt.Println(day["new-checkout"].Total)
	// Output:
	// 960
}
