package admin

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/flagon/flagon"
)

// chartNow is a quarter past ten on March 16th: the chart's last day is
// the 16th, its first (of 14) the 3rd.
var chartNow = time.Date(2026, 3, 16, 10, 15, 0, 0, time.UTC)

func hourOf(day, hour int) time.Time { return time.Date(2026, 3, day, hour, 0, 0, 0, time.UTC) }

func count(day, hour int, variant string, n int64) flagon.UsageCount {
	return flagon.UsageCount{Hour: hourOf(day, hour), Flag: "f", Variant: variant, Count: n}
}

func TestUsageChartGeometry(t *testing.T) {
	counts := []flagon.UsageCount{
		count(16, 9, "on", 300), count(16, 10, "off", 100), // today: 400, the busiest
		count(15, 0, "on", 50), count(15, 23, "on", 50), // yesterday: 100, in two hours
		count(3, 0, "off", 200),  // the first day
		count(2, 23, "on", 9999), // the day before the first: left out
		count(17, 0, "on", 9999), // tomorrow (a skewed clock): left out
		count(10, 5, "", 40),     // no variant
		count(10, 6, "legacy", 60),
	}
	u := newUsageChart(counts, []string{"on", "off"}, chartNow, chartDays)

	if len(u.Bars) != chartDays {
		t.Fatalf("%d bars, want %d", len(u.Bars), chartDays)
	}
	if got, want := u.Bars[0].Date, "Mar 3"; got != want {
		t.Errorf("first bar %s, want %s", got, want)
	}
	if got, want := u.Bars[chartDays-1].Date, "Mar 16"; got != want {
		t.Errorf("last bar %s, want %s", got, want)
	}
	if u.Total != 800 {
		t.Errorf("total %d, want 800", u.Total)
	}
	// Series: the flag's variants in its order, then others, then none.
	var labels, classes []string
	var seriesSum int64
	for _, s := range u.Series {
		labels = append(labels, s.Label)
		classes = append(classes, s.Class)
		seriesSum += s.Total
	}
	if got, want := strings.Join(labels, ","), "on,off,legacy,no variant"; got != want {
		t.Errorf("series %s, want %s", got, want)
	}
	if got, want := strings.Join(classes, ","), "c1,c2,c3,cnone"; got != want {
		t.Errorf("series classes %s, want %s", got, want)
	}
	if seriesSum != u.Total {
		t.Errorf("series add up to %d, the chart's total is %d", seriesSum, u.Total)
	}
	// The busiest day (400) rounds up to a scale of 400.
	if u.Scale != 400 {
		t.Errorf("scale %d, want 400", u.Scale)
	}

	plotH := u.Bottom - u.Top
	var barSum int64
	for i, b := range u.Bars {
		var sum int64
		for _, n := range b.Counts {
			sum += n
		}
		if sum != b.Total {
			t.Errorf("%s: counts add up to %d, total %d", b.Date, sum, b.Total)
		}
		barSum += b.Total
		// The stack is as tall as the day's share of the scale, and each
		// segment as tall as its count's; segments touch, bottom up.
		wantH := float64(b.Total) / float64(u.Scale) * plotH
		var h float64
		bottom := u.Bottom
		for _, r := range b.Rects {
			h += r.H
			var n int64
			for j, s := range u.Series {
				if s.Variant == r.Variant {
					n = b.Counts[j]
				}
			}
			if want := float64(n) / float64(u.Scale) * plotH; math.Abs(r.H-want) > 0.02 {
				t.Errorf("%s %s: height %.2f, want %.2f", b.Date, r.Variant, r.H, want)
			}
			if math.Abs(r.Y+r.H-bottom) > 0.02 {
				t.Errorf("%s %s: ends at %.2f, want it on the segment below at %.2f", b.Date, r.Variant, r.Y+r.H, bottom)
			}
			if r.X < u.Left || r.X+r.W > u.Right {
				t.Errorf("%s: bar from %.2f to %.2f is outside the plot (%.0f to %.0f)", b.Date, r.X, r.X+r.W, u.Left, u.Right)
			}
			bottom = r.Y
		}
		if math.Abs(h-wantH) > 0.05 {
			t.Errorf("%s: bar height %.2f, want %.2f", b.Date, h, wantH)
		}
		if i > 0 && b.X <= u.Bars[i-1].X {
			t.Errorf("%s: bars not left to right", b.Date)
		}
	}
	if barSum != u.Total {
		t.Errorf("bars add up to %d, total %d", barSum, u.Total)
	}
	today := u.Bars[chartDays-1]
	if len(today.Rects) != 2 || today.Rects[0].Variant != "on" || today.Rects[1].Variant != "off" {
		t.Errorf("today's segments %+v, want on below off", today.Rects)
	}
	// The busiest day fills the plot.
	if top := today.Rects[1].Y; math.Abs(top-u.Top) > 0.02 {
		t.Errorf("the busiest day reaches %.2f, want the top %.2f", top, u.Top)
	}
	// Yesterday's two hours are one day: 100 of 400, a quarter.
	if y := u.Bars[chartDays-2]; len(y.Rects) != 1 || math.Abs(y.Rects[0].H-plotH/4) > 0.02 {
		t.Errorf("yesterday %+v, want one quarter-height segment", y.Rects)
	}
	if got := u.Ticks[len(u.Ticks)-1]; got.Label != "400" || got.Y != u.Top {
		t.Errorf("top tick %+v, want 400 at the top", got)
	}
	for _, want := range []string{"800 in all", "on 400", "off 300", "Busiest day Mar 16, with 400"} {
		if !strings.Contains(u.Desc, want) {
			t.Errorf("description %q lacks %q", u.Desc, want)
		}
	}
}

func TestUsageChartEmpty(t *testing.T) {
	old := []flagon.UsageCount{count(1, 0, "on", 5)} // before the window
	for name, counts := range map[string][]flagon.UsageCount{"none": nil, "only older": old} {
		u := newUsageChart(counts, []string{"on", "off"}, chartNow, chartDays)
		if !u.Empty() || u.Total != 0 || len(u.Series) != 0 {
			t.Errorf("%s: chart not empty: total %d, series %v", name, u.Total, u.Series)
		}
		for _, b := range u.Bars {
			if len(b.Rects) != 0 {
				t.Errorf("%s: %s has segments", name, b.Date)
			}
		}
		if u.Scale != 1 {
			t.Errorf("%s: scale %d, want 1", name, u.Scale)
		}
		if !strings.HasPrefix(u.Desc, "No evaluations") {
			t.Errorf("%s: description %q", name, u.Desc)
		}
	}

	// The page says so instead of drawing an empty chart.
	d := &flagUsageData{Days: chartDays, Chart: newUsageChart(nil, []string{"on"}, chartNow, chartDays), Seen: seenAt(chartNow, time.Time{})}
	var buf bytes.Buffer
	if err := pages["flag"].ExecuteTemplate(&buf, "usage", d); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	mustContain(t, out, "No evaluations yet in the last 14 days", "Last evaluated <strong", ">never<")
	mustNotContain(t, out, "<svg")
}

func TestNiceCeil(t *testing.T) {
	for _, tc := range []struct{ in, want int64 }{
		{0, 1}, {1, 1}, {2, 2}, {7, 8}, {9, 10}, {10, 10}, {11, 12}, {13, 15}, {21, 25}, {81, 100},
		{101, 120}, {400, 400}, {401, 500}, {12345, 15000}, {math.MaxInt64 / 2, math.MaxInt64 / 2},
	} {
		if got := niceCeil(tc.in); got != tc.want {
			t.Errorf("niceCeil(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestCountFormats(t *testing.T) {
	for _, tc := range []struct {
		n               int64
		grouped, compct string
	}{
		{0, "0", "0"}, {999, "999", "999"}, {1000, "1,000", "1k"}, {1250, "1,250", "1.2k"},
		{12400, "12,400", "12.4k"}, {1234567, "1,234,567", "1.2M"}, {-1234, "-1,234", "-1234"},
	} {
		if got := groupDigits(tc.n); got != tc.grouped {
			t.Errorf("groupDigits(%d) = %q, want %q", tc.n, got, tc.grouped)
		}
		if got := compactCount(tc.n); got != tc.compct {
			t.Errorf("compactCount(%d) = %q, want %q", tc.n, got, tc.compct)
		}
	}
}

func TestSeenAt(t *testing.T) {
	for _, tc := range []struct {
		hour time.Time
		want string
	}{
		{time.Time{}, "never"},
		{hourOf(16, 10), "this hour"},
		{hourOf(16, 7), "3 h ago"},
		{hourOf(14, 11), "47 h ago"},
		{hourOf(14, 10), "2 d ago"},
		{hourOf(1, 10), "15 d ago"},
	} {
		if got := seenAt(chartNow, tc.hour).Ago; got != tc.want {
			t.Errorf("seenAt(%v) = %q, want %q", tc.hour, got, tc.want)
		}
	}
	if got := seenAt(chartNow, hourOf(16, 7)).Exact; got != "in the hour from 2026-03-16 07:00 UTC" {
		t.Errorf("exact = %q", got)
	}
}
