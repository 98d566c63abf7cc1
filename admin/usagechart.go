package admin

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flagon/flagon"
)

// chartDays is how many days a flag's usage chart shows: one bar per UTC
// day, today's (still filling) last.
const chartDays = 14

// The chart's geometry, in the units of its viewBox. The SVG scales to
// the width of its card; these numbers keep its labels legible from a
// phone (about 0.8 of a CSS pixel per unit) to a desktop (capped by
// max-width in the style sheet).
const (
	chartWidth  = 420
	chartHeight = 200
	chartLeft   = 40 // room for the count labels
	chartRight  = 6
	chartTop    = 10
	chartBottom = 36 // room for the day labels and the axis title
	// chartBarShare is the share of its day's slot a bar fills.
	chartBarShare = 0.68
	// chartColors is how many series colors the style sheet defines
	// (--chart-1 to --chart-8); more variants than that reuse them.
	chartColors = 8
)

// usageChart is a flag's evaluations per day and variant, laid out as
// stacked bars for the flag page's inline SVG. Make one with
// newUsageChart.
type usageChart struct {
	Width, Height int
	// The plot area, inside the axes.
	Left, Right, Top, Bottom float64
	Series                   []chartSeries // bottom of the stack first
	Bars                     []chartBar    // oldest day first
	Ticks                    []chartTick   // the count axis, from 0 up
	Scale                    int64         // the count at the top of the plot
	Total                    int64
	From, To                 string // the first and last day, "Mar 3"
	Desc                     string // the chart in words, for its <desc>
}

// chartSeries is one variant's share of the chart.
type chartSeries struct {
	Variant string // "" for evaluations that served no variant
	Label   string
	Class   string // the CSS class that colors it: c1 to c8, or cnone
	Total   int64
}

// chartBar is one day.
type chartBar struct {
	Day    time.Time
	Label  string  // the day of the month, under the bar
	Date   string  // "Mar 14"
	X      float64 // the bar's left edge
	Mid    float64 // the bar's center, where its label goes
	Total  int64
	Counts []int64 // per series, in Series order
	Rects  []chartRect
}

// chartRect is one variant's segment of a bar. Only segments with counts
// are drawn.
type chartRect struct {
	X, Y, W, H float64
	Variant    string
	Class      string
	Title      string // the tooltip: "Mar 14 · on: 1,200"
}

// chartTick is a horizontal grid line with its count.
type chartTick struct {
	Y     float64
	Label string
}

// Empty reports whether nothing was evaluated in the chart's days.
func (u *usageChart) Empty() bool { return u.Total == 0 }

// XAxisY is where the day labels sit.
func (u *usageChart) XAxisY() float64 { return u.Bottom + 13 }

// TitleY is where the axis title sits.
func (u *usageChart) TitleY() float64 { return float64(u.Height) - 4 }

// CenterX is the middle of the plot, under which the axis title sits.
func (u *usageChart) CenterX() float64 { return round2((u.Left + u.Right) / 2) }

// newUsageChart lays out counts (of one flag) as days stacked bars, one
// per UTC day ending with now's, one segment per variant. variants are
// the flag's variants in order: they come first in the stack and keep
// their colors from page to page; variants counted but no longer defined
// follow, sorted, and evaluations that served no variant come last.
// Counts outside the days are ignored.
func newUsageChart(counts []flagon.UsageCount, variants []string, now time.Time, days int) *usageChart {
	now = now.UTC()
	last := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	first := last.AddDate(0, 0, -(days - 1))
	u := &usageChart{
		Width: chartWidth, Height: chartHeight,
		Left: chartLeft, Right: chartWidth - chartRight, Top: chartTop, Bottom: chartHeight - chartBottom,
		From: first.Format("Jan 2"), To: last.Format("Jan 2"),
	}

	// Sum the counts per day and variant.
	perDay := make([]map[string]int64, days)
	totals := map[string]int64{}
	for _, c := range counts {
		if c.Hour.Before(first) {
			continue
		}
		i := int(c.Hour.Sub(first) / (24 * time.Hour))
		if i >= days {
			continue
		}
		if perDay[i] == nil {
			perDay[i] = map[string]int64{}
		}
		perDay[i][c.Variant] += c.Count
		totals[c.Variant] += c.Count
		u.Total += c.Count
	}

	// The series: the flag's variants with counts, in the flag's order
	// (colored by their place in it), then the others.
	color := map[string]string{}
	for i, v := range variants {
		color[v] = "c" + strconv.Itoa(i%chartColors+1)
	}
	var extra []string
	for v := range totals {
		if _, ok := color[v]; !ok && v != "" {
			extra = append(extra, v)
		}
	}
	slices.Sort(extra)
	for i, v := range extra {
		color[v] = "c" + strconv.Itoa((len(variants)+i)%chartColors+1)
	}
	for _, v := range append(slices.Clip(variants), extra...) {
		if totals[v] > 0 {
			u.Series = append(u.Series, chartSeries{Variant: v, Label: v, Class: color[v], Total: totals[v]})
		}
	}
	if totals[""] > 0 {
		u.Series = append(u.Series, chartSeries{Label: "no variant", Class: "cnone", Total: totals[""]})
	}

	// The scale: the busiest day, rounded up to a number easy to read.
	var busiest int64
	busiestDay := -1
	for i, m := range perDay {
		var t int64
		for _, n := range m {
			t += n
		}
		if t > busiest {
			busiest, busiestDay = t, i
		}
	}
	u.Scale = niceCeil(busiest)
	plotH := u.Bottom - u.Top
	yOf := func(n int64) float64 { return u.Bottom - float64(n)/float64(u.Scale)*plotH }
	u.Ticks = []chartTick{{Y: u.Bottom, Label: "0"}}
	if u.Scale%2 == 0 {
		u.Ticks = append(u.Ticks, chartTick{Y: round2(yOf(u.Scale / 2)), Label: compactCount(u.Scale / 2)})
	}
	u.Ticks = append(u.Ticks, chartTick{Y: round2(yOf(u.Scale)), Label: compactCount(u.Scale)})

	// The bars, each segment as tall as its share of the scale.
	slot := (u.Right - u.Left) / float64(days)
	barW := slot * chartBarShare
	for i := range days {
		day := first.AddDate(0, 0, i)
		b := chartBar{Day: day, Label: strconv.Itoa(day.Day()), Date: day.Format("Jan 2"),
			X: round2(u.Left + float64(i)*slot + (slot-barW)/2), Mid: round2(u.Left + (float64(i)+0.5)*slot)}
		var below int64
		for _, s := range u.Series {
			n := perDay[i][s.Variant]
			b.Counts = append(b.Counts, n)
			b.Total += n
			if n == 0 {
				continue
			}
			top := yOf(below + n)
			b.Rects = append(b.Rects, chartRect{
				X: b.X, Y: round2(top), W: round2(barW), H: round2(yOf(below) - top),
				Variant: s.Variant, Class: s.Class,
				Title: fmt.Sprintf("%s · %s: %s", b.Date, s.Label, groupDigits(n)),
			})
			below += n
		}
		u.Bars = append(u.Bars, b)
	}
	u.Desc = u.describe(busiestDay)
	return u
}

// describe says what the chart shows in a sentence or two.
func (u *usageChart) describe(busiestDay int) string {
	span := fmt.Sprintf("%s to %s (UTC)", u.From, u.To)
	if u.Empty() {
		return "No evaluations from " + span + "."
	}
	parts := make([]string, len(u.Series))
	for i, s := range u.Series {
		parts[i] = fmt.Sprintf("%s %s", s.Label, groupDigits(s.Total))
	}
	b := u.Bars[busiestDay]
	return fmt.Sprintf("Evaluations per day from %s: %s in all; %s. Busiest day %s, with %s.",
		span, groupDigits(u.Total), strings.Join(parts, ", "), b.Date, groupDigits(b.Total))
}

// niceCeil returns the smallest of 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20,
// 25, 30, 40, 50, 60, 80, 100, 120, ... that is at least n (1 for n < 1).
func niceCeil(n int64) int64 {
	if n <= 1 {
		return 1
	}
	steps := []int64{10, 12, 15, 20, 25, 30, 40, 50, 60, 80}
	for p := int64(1); ; p *= 10 {
		for _, m := range steps {
			if m*p%10 != 0 {
				continue
			}
			if v := m * p / 10; v >= n {
				return v
			}
		}
		if p > math.MaxInt64/100 {
			return n
		}
	}
}

// compactCount writes a count for an axis: 950, 1.2k, 15k, 3.5M.
func compactCount(n int64) string {
	f := func(v float64, unit string) string {
		s := strconv.FormatFloat(v, 'f', 1, 64)
		return strings.TrimSuffix(s, ".0") + unit
	}
	switch {
	case n >= 1e9:
		return f(float64(n)/1e9, "G")
	case n >= 1e6:
		return f(float64(n)/1e6, "M")
	case n >= 1e3:
		return f(float64(n)/1e3, "k")
	}
	return strconv.FormatInt(n, 10)
}

// groupDigits writes a count with thousands separated: 12,400.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// round2 rounds to hundredths, which is finer than any screen shows and
// keeps the SVG short.
func round2(v float64) float64 { return math.Round(v*100) / 100 }
