package admin

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flagon/flagon"
)

// The usage views' windows.
const (
	// listDays is the window of the flags list's count column.
	listDays = 7
	// DefaultRemovableDays is the "Ready to remove" page's window when
	// the request names none.
	DefaultRemovableDays = 14
	// MaxRemovableDays is the longest window the page accepts.
	MaxRemovableDays = 365
)

// seen says when a flag (or an app) was last evaluated: relative for the
// eye, exact for the title attribute. Counts are kept per hour, so both
// speak of hours.
type seen struct {
	Ago   string // "this hour", "3 h ago", "5 d ago", "never"
	Exact string // "in the hour from 2026-03-14 10:00 UTC"
	Never bool
}

// seenAt describes hour, the start of the last hour with counts, at now.
func seenAt(now, hour time.Time) seen {
	if hour.IsZero() {
		return seen{Ago: "never", Exact: "no evaluation is kept", Never: true}
	}
	s := seen{Exact: "in the hour from " + hour.UTC().Format("2006-01-02 15:04 UTC")}
	h := int64(now.Truncate(time.Hour).Sub(hour) / time.Hour)
	switch {
	case h <= 0:
		s.Ago = "this hour"
	case h < 48:
		s.Ago = fmt.Sprintf("%d h ago", h)
	default:
		s.Ago = fmt.Sprintf("%d d ago", h/24)
	}
	return s
}

// allUsage reads the usage of every flag and environment, summed per
// stretch between the window starts given (flagon.UsageAround), so that
// the views cost one grouped query per stretch however many hours the
// store keeps. It returns nil, nil without a store.
func (c *Console) allUsage(ctx context.Context, windows ...time.Time) ([]flagon.UsageCount, error) {
	if c.opts.Usage == nil {
		return nil, nil
	}
	return flagon.UsageAround(ctx, c.opts.Usage, flagon.UsageQuery{}, windows...)
}

// The flags list's orders, by the value of its sort parameter. Ascending
// orders put the flags least used first, as those are what one looks
// for; ties go by key.
var flagSorts = map[string]func(a, b *flagRow) int{
	"":       nil,
	"last":   func(a, b *flagRow) int { return a.LastEvaluated.Compare(b.LastEvaluated) },
	"-last":  func(a, b *flagRow) int { return b.LastEvaluated.Compare(a.LastEvaluated) },
	"count":  func(a, b *flagRow) int { return cmp.Compare(a.Week, b.Week) },
	"-count": func(a, b *flagRow) int { return cmp.Compare(b.Week, a.Week) },
}

// sortOptions are the orders the filter form offers (the column headers
// offer them too, but a phone's card layout hides those).
var sortOptions = []struct{ Value, Label string }{
	{"", "Key"},
	{"last", "Least recently evaluated"},
	{"-last", "Most recently evaluated"},
	{"count", "Fewest evaluations (7 days)"},
	{"-count", "Most evaluations (7 days)"},
}

// sortFlags orders rows as sort asks; unknown orders keep them by key.
func sortFlags(rows []flagRow, sort string) {
	f := flagSorts[sort]
	if f == nil {
		return
	}
	slices.SortStableFunc(rows, func(a, b flagRow) int {
		if n := f(&a, &b); n != 0 {
			return n
		}
		return strings.Compare(a.Key, b.Key)
	})
}

// sortHeader is a sortable column's header: the link that sorts by it
// (or reverses the order when it already does), and its aria-sort.
type sortHeader struct {
	Href string
	Sort string // "ascending", "descending" or "" (not sorted by it)
}

// sortHeaders returns the headers of the sortable columns, keyed "key",
// "last" and "count", for a list at base+"flags" with query qv.
func sortHeaders(base string, qv url.Values, current string) map[string]sortHeader {
	link := func(sort string) string {
		v := url.Values{}
		for _, k := range []string{"q", "tag", "owner", "archived"} {
			if s := qv.Get(k); s != "" {
				v.Set(k, s)
			}
		}
		if sort != "" {
			v.Set("sort", sort)
		}
		if len(v) == 0 {
			return base + "flags"
		}
		return base + "flags?" + v.Encode()
	}
	out := map[string]sortHeader{"key": {Href: link("")}}
	if flagSorts[current] == nil {
		out["key"] = sortHeader{Href: link(""), Sort: "ascending"}
	}
	for _, col := range []string{"last", "count"} {
		h := sortHeader{Href: link(col)}
		switch current {
		case col:
			h.Href, h.Sort = link("-"+col), "ascending"
		case "-" + col:
			h.Sort = "descending"
		}
		out[col] = h
	}
	return out
}

// addUsage fills in the rows' usage columns from counts, at now, and
// returns how many flags look ready to remove in the default window.
func addUsage(rows []flagRow, flags []flagon.StoredFlag, counts []flagon.UsageCount, now time.Time) int {
	all := flagon.SummarizeUsage(counts)
	week := flagon.SummarizeUsage(flagon.UsageSince(counts, now.Add(-listDays*24*time.Hour)))
	for i := range rows {
		r := &rows[i]
		if u := all[r.Key]; u != nil {
			r.LastEvaluated = u.Last
		}
		if u := week[r.Key]; u != nil {
			r.Week = u.Total
		}
		r.Seen = seenAt(now, r.LastEvaluated)
	}
	return len(flagon.ReadyToRemove(liveFlags(flags), counts, now, DefaultRemovableDays*24*time.Hour))
}

// liveFlags returns the flags that are not archived: archived flags are
// no longer served, so they are not candidates for removal from code.
func liveFlags(stored []flagon.StoredFlag) []flagon.Flag {
	out := make([]flagon.Flag, 0, len(stored))
	for _, f := range stored {
		if !f.Archived {
			out = append(out, f.Flag)
		}
	}
	return out
}

// flagUsageData is the usage section of a flag's page.
type flagUsageData struct {
	Env   string // the environment shown; "" for all
	Days  int
	Chart *usageChart
	Apps  []appUsage
	Seen  seen
	Error bool // the counts could not be read
}

// appUsage is one application's evaluations of a flag in one
// environment.
type appUsage struct {
	App         string
	Environment string
	Count       int64 // in the chart's days
	Last        time.Time
	Seen        seen
}

// flagUsage reads a flag's usage for its page: in env, or in every
// environment when env is empty. It returns nil without a usage store.
func (c *Console) flagUsage(ctx context.Context, f flagon.Flag, env string, now time.Time) *flagUsageData {
	if c.opts.Usage == nil {
		return nil
	}
	d := &flagUsageData{Env: env, Days: chartDays}
	counts, err := c.opts.Usage.Usage(ctx, flagon.UsageQuery{Flag: f.Key, Environment: env})
	if err != nil {
		c.log.Warn("admin: read flag usage", "flag", f.Key, "err", err)
		d.Error = true
		return d
	}
	defined := f.Normalize().Variants
	variants := make([]string, len(defined))
	for i, v := range defined {
		variants[i] = v.Name
	}
	d.Chart = newUsageChart(counts, variants, now, chartDays)
	d.Apps = appsOf(counts, d.Chart.Bars[0].Day, now)
	if u := flagon.SummarizeUsage(counts)[f.Key]; u != nil {
		d.Seen = seenAt(now, u.Last)
	} else {
		d.Seen = seenAt(now, time.Time{})
	}
	return d
}

// appsOf sums counts per application and environment: the evaluations
// from start on, and the last hour of all. Busiest first.
func appsOf(counts []flagon.UsageCount, start, now time.Time) []appUsage {
	type key struct{ app, env string }
	byApp := map[key]*appUsage{}
	for _, c := range counts {
		k := key{c.App, c.Environment}
		a := byApp[k]
		if a == nil {
			a = &appUsage{App: c.App, Environment: c.Environment}
			byApp[k] = a
		}
		if !c.Hour.Before(start) {
			a.Count += c.Count
		}
		if c.Hour.After(a.Last) {
			a.Last = c.Hour
		}
	}
	out := make([]appUsage, 0, len(byApp))
	for _, a := range byApp {
		a.Seen = seenAt(now, a.Last)
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b appUsage) int {
		if n := cmp.Compare(b.Count, a.Count); n != 0 {
			return n
		}
		if n := b.Last.Compare(a.Last); n != 0 {
			return n
		}
		return cmp.Or(strings.Compare(a.App, b.App), strings.Compare(a.Environment, b.Environment))
	})
	return out
}

// removableData is the "Ready to remove" page.
type removableData struct {
	Days     string // as typed, to show back
	Window   int    // the window in days, once valid
	Err      string // what is wrong with Days
	HasUsage bool
	Rows     []removableRow
	Flags    int // how many live flags were considered
}

// removableRow is one candidate, with what the page says of it.
type removableRow struct {
	flagon.RemovalCandidate
	Owner   string
	Reasons []string // in words
	Seen    seen
}

// reasonText names a removal reason for people.
var reasonText = map[flagon.RemovalReason]string{
	flagon.RemovalNotEvaluated: "not evaluated",
	flagon.RemovalOneVariant:   "one variant",
	flagon.RemovalExpired:      "past expiry",
}

// parseDays reads the days parameter: a whole number from 1 to
// MaxRemovableDays, DefaultRemovableDays when empty.
func parseDays(s string) (int, error) {
	if s == "" {
		return DefaultRemovableDays, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > MaxRemovableDays {
		return 0, fmt.Errorf("want a whole number of days from 1 to %d, not %q", MaxRemovableDays, s)
	}
	return n, nil
}

// removablePage lists the flags that look ready to be removed from code:
// flagon.ReadyToRemove over every kept count, in a window of days.
func (c *Console) removablePage(w http.ResponseWriter, r *http.Request, q *request) {
	d := &removableData{Days: r.URL.Query().Get("days"), HasUsage: c.opts.Usage != nil}
	n, err := parseDays(d.Days)
	if err != nil {
		d.Err = err.Error()
		p := c.newPage(r, "Ready to remove", "flags", d)
		p.Error = "Nothing was listed: the number of days is not valid."
		c.render(w, http.StatusBadRequest, "removable", p)
		return
	}
	d.Window = n
	if d.Days == "" {
		d.Days = strconv.Itoa(n)
	}
	if d.HasUsage {
		ctx := r.Context()
		stored, err := c.storedFlags(ctx)
		if err != nil {
			c.serverError(w, r, "read the flags", err)
			return
		}
		counts, err := c.allUsage(ctx, q.now.Add(-time.Duration(n)*24*time.Hour))
		if err != nil {
			c.serverError(w, r, "read the usage counts", err)
			return
		}
		live := liveFlags(stored)
		d.Flags = len(live)
		owners := map[string]string{}
		for _, f := range live {
			owners[f.Key] = f.Owner
		}
		for _, rc := range flagon.ReadyToRemove(live, counts, q.now, time.Duration(n)*24*time.Hour) {
			row := removableRow{RemovalCandidate: rc, Owner: owners[rc.Flag], Seen: seenAt(q.now, rc.LastEvaluated)}
			for _, why := range rc.Reasons {
				row.Reasons = append(row.Reasons, cmp.Or(reasonText[why], string(why)))
			}
			d.Rows = append(d.Rows, row)
		}
	}
	c.render(w, http.StatusOK, "removable", c.newPage(r, "Ready to remove", "flags", d))
}
